/**
 * JSON Schemas, recognized by their shape wherever they sit (Google's `responseSchema`, Ollama's
 * `format`, vLLM's `extra_body.guided_json`): a schema is the request, so it is kept verbatim.
 */
import { isPlainObject } from './records.js';

const JSON_TYPES = new Set(['string', 'number', 'integer', 'boolean', 'object', 'array', 'null']);
const SCHEMA_KEYWORDS = new Set([
  'type',
  'description',
  'title',
  'enum',
  'const',
  'format',
  'default',
  'examples',
  'example',
  'nullable',
  'items',
  'prefixItems',
  'properties',
  'patternProperties',
  'additionalProperties',
  'required',
  'minimum',
  'maximum',
  'exclusiveMinimum',
  'exclusiveMaximum',
  'multipleOf',
  'minLength',
  'maxLength',
  'pattern',
  'minItems',
  'maxItems',
  'uniqueItems',
  'minProperties',
  'maxProperties',
  'propertyOrdering',
  'anyOf',
  'oneOf',
  'allOf',
  'not',
  'if',
  'then',
  'else',
  'contains',
  'minContains',
  'maxContains',
  'propertyNames',
  'dependentRequired',
  'dependentSchemas',
  'unevaluatedProperties',
  'unevaluatedItems',
  'contentEncoding',
  'contentMediaType',
  'readOnly',
  'writeOnly',
  'deprecated',
  'definitions',
  '$ref',
  '$id',
  '$schema',
  '$defs',
  '$comment',
  '$anchor',
  '$dynamicRef',
  '$dynamicAnchor',
  'additionalItems',
  'dependencies',
  'discriminator',
  'externalDocs',
  'xml',
  'strict',
]);

/** Only schema keywords (and `x-` extensions): what a property's or an alternative's schema holds. */
const onlySchemaKeywords = (o: Record<string, unknown>) =>
  Object.keys(o).every((k) => SCHEMA_KEYWORDS.has(k) || k.startsWith('x-'));
const isSubschema = (v: unknown) => typeof v === 'boolean' || (isPlainObject(v) && onlySchemaKeywords(v));

function isJsonType(t: unknown): boolean {
  if (typeof t === 'string') return JSON_TYPES.has(t.toLowerCase());
  return (
    Array.isArray(t) &&
    t.length > 0 &&
    t.every((x) => typeof x === 'string' && JSON_TYPES.has(x.toLowerCase()))
  );
}

/**
 * Whether an object is a JSON Schema (or Google's and OpenAPI's dialect of it): `$schema`,
 * `$ref`, `$defs`, `properties` holding subschemas, `anyOf`/`oneOf`/`allOf` lists of them, or a
 * JSON `type` with `items` or with nothing but schema keywords beside it. A subschema holds only
 * schema keywords, so a configuration map that happens to be called `properties`
 * (`{ properties: { db: { password } } }`) is not taken for one.
 */
export function isJsonSchema(o: Record<string, unknown>): boolean {
  if (typeof o.$schema === 'string' || typeof o.$ref === 'string' || isPlainObject(o.$defs)) return true;
  if (isPlainObject(o.properties) && Object.values(o.properties).every(isSubschema)) return true;
  for (const k of ['anyOf', 'oneOf', 'allOf'] as const) {
    const list = o[k];
    if (Array.isArray(list) && list.length > 0 && list.every(isSubschema)) return true;
  }
  if (!isJsonType(o.type)) return false;
  if (o.items !== undefined && (isSubschema(o.items) || Array.isArray(o.items))) return true;
  return onlySchemaKeywords(o);
}
