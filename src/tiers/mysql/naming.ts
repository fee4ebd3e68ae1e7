/**
 * The MySQL tier's table-name rule, stated once: table names cannot be bound parameters, so the
 * prefix is checked where the config is validated and again where the driver builds its SQL
 * (a programmatic caller may skip the config). Nothing here loads mysql2.
 */
export const TABLE_PREFIX = /^[A-Za-z0-9_]{0,32}$/;
export const TABLE_PREFIX_RULE = 'letters, digits and _ only, at most 32';
