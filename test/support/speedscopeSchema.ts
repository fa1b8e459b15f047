// Test support: speedscope's own file-format schema (shipped in its npm package), compiled
// with ajv 6 (already in node_modules through eslint; it speaks the schema's draft-07), so
// tests check exported files against what speedscope itself declares.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { repoRoot } from './repo';

interface AjvLike {
  compile(schema: object): ((data: unknown) => boolean) & { errors?: unknown[] | null };
}

export type SpeedscopeValidator = ((data: unknown) => boolean) & { errors?: unknown[] | null };

export async function speedscopeValidator(): Promise<SpeedscopeValidator> {
  const schemaPath = join(repoRoot(), 'node_modules/speedscope/dist/release/file-format-schema.json');
  const schema = JSON.parse(readFileSync(schemaPath, 'utf8')) as object;
  const { default: Ajv } = (await import('ajv')) as unknown as { default: new (o: object) => AjvLike };
  return new Ajv({ allErrors: true }).compile({ ...schema, $ref: '#/definitions/FileFormat.File' });
}
