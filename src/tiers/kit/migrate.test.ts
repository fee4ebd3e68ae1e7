import { describe, expect, it } from 'vitest';
import { SchemaVersionError, SqliteOpenError } from '../../errors.js';
import { migrate, migrateSync } from './migrate.js';

const schema = { where: 'strata_migrations', steps: ['one', 'two', 'three'] };

describe('the schema migrator', () => {
  it('applies the steps after the version found, in order, each with the version it brings', async () => {
    const applied: Array<[string, number]> = [];
    await migrate(schema, 1, async (step, version) => {
      applied.push([step, version]);
    });
    expect(applied).toEqual([
      ['two', 2],
      ['three', 3],
    ]);
    const again: string[] = [];
    migrateSync(schema, 3, (step) => again.push(step));
    expect(again).toEqual([]);
  });

  it('refuses a schema written by a newer Strata with a coded error, applying nothing', async () => {
    const applied: string[] = [];
    const error = await migrate(schema, 4, async (step) => {
      applied.push(step);
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(SchemaVersionError);
    expect((error as SchemaVersionError).code).toBe('STRATA_SCHEMA_NEWER');
    expect((error as Error).message).toBe(
      'strata_migrations: schema version 4 was written by a newer Strata (this one knows 3); left untouched',
    );
    expect(applied).toEqual([]);
  });

  it("takes the tier's own error for a newer schema", () => {
    const own = {
      ...schema,
      newer: (found: number, known: number) => new SqliteOpenError(`${found} > ${known}`),
    };
    expect(() => migrateSync(own, 7, () => {})).toThrow(new SqliteOpenError('7 > 3'));
  });
});
