// Photos are compressed on the phone with a canvas to the server's policy
// (GET /v1/schema → photos: max_bytes, max_long_edge), as JPEG (the server
// cannot decode HEIC), hashed with SHA-256 and kept as Blobs in IndexedDB
// until they are uploaded after the records citing them.

// The long edge the app aims for: the server's limit, but no more than a
// phone screen needs twice over, to keep uploads small on a weak signal.
const PREFERRED_LONG_EDGE = 2560

async function toBlob(canvas, quality) {
  if (canvas.convertToBlob) return canvas.convertToBlob({ type: 'image/jpeg', quality })
  return new Promise((resolve) => canvas.toBlob(resolve, 'image/jpeg', quality))
}

function makeCanvas(w, h) {
  if (typeof OffscreenCanvas !== 'undefined') return new OffscreenCanvas(w, h)
  const c = document.createElement('canvas')
  c.width = w
  c.height = h
  return c
}

export async function sha256Hex(blob) {
  const buf = await crypto.subtle.digest('SHA-256', await blob.arrayBuffer())
  return [...new Uint8Array(buf)].map((b) => b.toString(16).padStart(2, '0')).join('')
}

// compress returns {blob, width, height} within the policy.
export async function compress(file, policy) {
  const maxBytes = (policy && policy.max_bytes) || 8 << 20
  const maxEdge = Math.min((policy && policy.max_long_edge) || 4096, PREFERRED_LONG_EDGE)
  const bmp = await createImageBitmap(file, { imageOrientation: 'from-image' })
  let scale = Math.min(1, maxEdge / Math.max(bmp.width, bmp.height))
  for (let attempt = 0; attempt < 8; attempt++) {
    const w = Math.max(1, Math.round(bmp.width * scale))
    const h = Math.max(1, Math.round(bmp.height * scale))
    const c = makeCanvas(w, h)
    const ctx = c.getContext('2d')
    ctx.fillStyle = '#fff' // transparent PNGs become JPEG on white
    ctx.fillRect(0, 0, w, h)
    ctx.drawImage(bmp, 0, 0, w, h)
    for (const q of [0.85, 0.7, 0.55]) {
      const blob = await toBlob(c, q)
      if (blob.size <= maxBytes) {
        bmp.close?.()
        return { blob, width: w, height: h }
      }
    }
    scale *= 0.75
  }
  bmp.close?.()
  throw new Error('photo too large even after compression')
}

// prepare turns camera files into photo entries: the manifest item a record
// cites and the stored entry with its Blob.
export async function prepare(files, policy, where) {
  const out = []
  for (const f of files) {
    const { blob, width, height } = await compress(f, policy)
    const sha = await sha256Hex(blob)
    const taken = new Date(f.lastModified || Date.now())
    const item = { sha256: sha, size: blob.size, type: 'image/jpeg', width, height, taken_at: taken.toISOString() }
    if (where) { item.lat = where.lat; item.lng = where.lng }
    out.push({ item, stored: { sha, blob, type: 'image/jpeg', size: blob.size, width, height, taken_at: item.taken_at, state: 'pending', error: '', created: Date.now() } })
  }
  return out
}
