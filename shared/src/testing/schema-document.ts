import { Ajv2020, type ValidateFunction } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';

// ajv-formats is CommonJS: its default export arrives wrapped under ESM.
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;

/** A JSON pointer segment: `/` and `~` escaped (RFC 6901). */
export const pointerSegment = (segment: string) => segment.replaceAll('~', '~0').replaceAll('/', '~1');

/**
 * Validates values against schemas inside an API document (OpenAPI 3.1 or
 * AsyncAPI 3, both JSON Schema 2020-12), addressed by JSON pointer, so the
 * document's own `$ref`s resolve as they are written.
 */
export function schemaDocument(document: object) {
  const ajv = new Ajv2020({ strict: false, allErrors: true });
  addFormats(ajv);
  // The whole document under one id; ajv ignores the keys that are not schema keywords.
  ajv.addSchema({ ...document, $id: 'document' });
  const compiled = new Map<string, ValidateFunction>();

  function validatorAt(pointer: string): ValidateFunction {
    let validate = compiled.get(pointer);
    if (!validate) {
      validate = ajv.compile({ $ref: `document#${pointer}` });
      compiled.set(pointer, validate);
    }
    return validate;
  }

  return {
    /** The problems of `value` against the schema at `pointer`, one line each; empty when it conforms. */
    problems(pointer: string, value: unknown): string[] {
      const validate = validatorAt(pointer);
      if (validate(value)) return [];
      return (validate.errors ?? []).map((e) => `${e.instancePath || '(root)'} ${e.message ?? 'is invalid'} ${JSON.stringify(e.params)}`);
    },
    /** Compiles the schema at `pointer`: throws when it is not a valid schema or a `$ref` in it does not resolve. */
    compile(pointer: string): void {
      validatorAt(pointer);
    },
  };
}
