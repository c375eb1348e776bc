// A tiny .xlsx reader for the browser journeys: the zip's central directory,
// inflate, and the first sheet's rows as arrays of strings (inline strings,
// shared strings, numbers), enough to read back the server's exports.
import { inflateRawSync } from 'node:zlib'

function entries(buf) {
  let eocd = -1
  for (let i = buf.length - 22; i >= Math.max(0, buf.length - 65_557); i--) {
    if (buf.readUInt32LE(i) === 0x06054b50) { eocd = i; break }
  }
  if (eocd < 0) throw new Error('xlsx: not a zip (no end of central directory)')
  const count = buf.readUInt16LE(eocd + 10)
  let p = buf.readUInt32LE(eocd + 16)
  const out = {}
  for (let n = 0; n < count; n++) {
    if (buf.readUInt32LE(p) !== 0x02014b50) throw new Error('xlsx: bad central directory')
    const method = buf.readUInt16LE(p + 10)
    const size = buf.readUInt32LE(p + 20)
    const nameLen = buf.readUInt16LE(p + 28)
    const extraLen = buf.readUInt16LE(p + 30)
    const commentLen = buf.readUInt16LE(p + 32)
    const local = buf.readUInt32LE(p + 42)
    const name = buf.toString('utf8', p + 46, p + 46 + nameLen)
    const start = local + 30 + buf.readUInt16LE(local + 26) + buf.readUInt16LE(local + 28)
    const raw = buf.subarray(start, start + size)
    out[name] = method === 8 ? inflateRawSync(raw) : raw
    p += 46 + nameLen + extraLen + commentLen
  }
  return out
}

const unescape = (s) => s.replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&quot;/g, '"').replace(/&apos;/g, "'").replace(/&#(\d+);/g, (_, d) => String.fromCodePoint(+d)).replace(/&amp;/g, '&')
const texts = (xml) => [...xml.matchAll(/<t(?:\s[^>]*)?>([\s\S]*?)<\/t>/g)].map((m) => unescape(m[1])).join('')

// readSheet returns the rows of the workbook's first sheet.
export function readSheet(buf) {
  const files = entries(Buffer.from(buf))
  const shared = files['xl/sharedStrings.xml'] ? [...files['xl/sharedStrings.xml'].toString('utf8').matchAll(/<si>([\s\S]*?)<\/si>/g)].map((m) => texts(m[1])) : []
  const name = Object.keys(files).filter((n) => /^xl\/worksheets\/sheet\d+\.xml$/.test(n)).sort()[0]
  if (!name) throw new Error('xlsx: no worksheet')
  const xml = files[name].toString('utf8')
  const rows = []
  for (const r of xml.matchAll(/<row[^>]*>([\s\S]*?)<\/row>/g)) {
    const row = []
    for (const c of r[1].matchAll(/<c([^>]*?)(?:\/>|>([\s\S]*?)<\/c>)/g)) {
      const attrs = c[1]
      const body = c[2] || ''
      const ref = (attrs.match(/\br="([A-Z]+)\d+"/) || [])[1]
      const col = ref ? [...ref].reduce((n, ch) => n * 26 + ch.charCodeAt(0) - 64, 0) - 1 : row.length
      const type = (attrs.match(/\bt="([^"]+)"/) || [])[1]
      const v = (body.match(/<v>([\s\S]*?)<\/v>/) || [])[1]
      let value = ''
      if (type === 's') value = shared[+v] ?? ''
      else if (type === 'inlineStr') value = texts(body)
      else if (v !== undefined) value = unescape(v)
      row[col] = value
    }
    rows.push(Array.from(row, (x) => x ?? ''))
  }
  return rows
}
