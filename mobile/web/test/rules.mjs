// loadRules loads the server's rules as the app runs them: syncproto's
// WebAssembly build (make web writes it to public/), and, when schema is
// true, the issue lifecycle table from it set as the schema, as GET
// /v1/schema publishes the same Go table. It returns src/sp.js, loaded.
// (node --test runs this file too, as it runs every file under test/: it
// defines and runs nothing.)
import assert from 'node:assert/strict'
import { readFileSync, existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'

const here = dirname(fileURLToPath(import.meta.url))

export async function loadRules({ schema = true } = {}) {
  const wasmPath = process.env.SYNCPROTO_WASM || join(here, '../public/syncproto.wasm')
  const execPath = process.env.WASM_EXEC_JS || join(here, '../public/wasm_exec.js')
  assert.ok(existsSync(wasmPath), `${wasmPath} is missing: run make web`)
  await import(execPath)
  const sp = await import('../src/sp.js')
  await sp.load('file://' + wasmPath, async (u) => new Response(readFileSync(fileURLToPath(u)), { headers: { 'content-type': 'application/wasm' } }))
  if (schema) {
    const { setSchema } = await import('../src/domain.js')
    setSchema({ issue_transitions: sp.issueTransitions() })
  }
  return sp
}
