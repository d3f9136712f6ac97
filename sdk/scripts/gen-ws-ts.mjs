// Generates TypeScript types for every WebSocket frame in asyncapi.yaml,
// plus ClientFrame / ServerFrame unions (from the publish / subscribe
// operations) and an index.ts.
// usage: node scripts/gen-ws-ts.mjs <asyncapi.yaml> <outDir>
import { readFile, rm, mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Parser } from '@asyncapi/parser';
import { TypeScriptGenerator, TS_DESCRIPTION_PRESET } from '@asyncapi/modelina';

const [input, outDir] = process.argv.slice(2);
const text = await readFile(input, 'utf8');

// Unions by direction, named after the frame schemas' titles.
const { document, diagnostics } = await new Parser().parse(text);
if (!document) {
  for (const d of diagnostics.filter((d) => d.severity === 0)) console.error(d.code, d.path.join('.'), d.message);
  process.exit(1);
}
const unions = { ClientFrame: new Set(), ServerFrame: new Set() };
for (const op of document.operations()) {
  const set = op.action() === 'publish' ? unions.ClientFrame : unions.ServerFrame; // v2: publish = client -> server
  for (const m of op.messages()) set.add(m.payload().title());
}

const generator = new TypeScriptGenerator({
  modelType: 'interface',
  enumType: 'union',
  mapType: 'record',
  rawPropertyNames: true,
  presets: [TS_DESCRIPTION_PRESET],
  processorOptions: { jsonSchema: { ignoreAdditionalProperties: true, interpretSingleEnumAsConst: true } },
});
const models = await generator.generateCompleteModels(text, { exportType: 'named' });
await rm(outDir, { recursive: true, force: true });
await mkdir(outDir, { recursive: true });
const names = [];
for (const m of models) {
  if (m.modelName.startsWith('Slash')) continue; // per-channel unions: both directions share one name (modelina), replaced below
  if (/^Anonymous/.test(m.modelName)) throw new Error(`anonymous model ${m.modelName}: give the schema a title`);
  names.push(m.modelName);
  // Explicit .js extensions: the files compile under moduleResolution
  // NodeNext too (the npm package) as well as Bundler.
  const result = m.result.replace(/(from\s+'\.\/[^']+?)(?<!\.js)'/g, "$1.js'");
  await writeFile(path.join(outDir, `${m.modelName}.ts`), result + '\n');
}
let index = names.map((n) => `export type { ${n} } from './${n}.js';`).join('\n') + '\n';
for (const [name, set] of Object.entries(unions)) {
  const members = [...set];
  index += members.map((t) => `import type { ${t} as _${name}_${t} } from './${t}.js';`).join('\n') + '\n';
  index += `export type ${name} = ${members.map((t) => `_${name}_${t}`).join(' | ')};\n`;
}
await writeFile(path.join(outDir, 'index.ts'), index);
console.log(`${names.length} models, unions: ${Object.entries(unions).map(([k, v]) => `${k}(${v.size})`).join(', ')}`);
