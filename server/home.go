package server

import (
	"github.com/gofiber/fiber/v2"
)

// buildPage is served at / when the binary carries no built web app (a fresh
// clone built without `make web`: Deps.Web holds only the placeholder). It
// says how to build the app and where the API is, in Chinese first and
// English second.
const buildPage = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Pairsync 结对共建</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>Pairsync 结对共建</h1>
<p>服务器正在运行，但这个程序没有包含网页应用。在仓库根目录运行 <code>make web</code>（需要 Node 20）构建应用，再重新构建并启动服务器（<code>make run</code> 会先构建应用）。</p>
<p>The server is running, but this binary does not carry the web app. Run <code>make web</code> at the repository's root (needs Node 20) to build it, then rebuild and start the server (<code>make run</code> builds the app first).</p>
<ul>
<li><a href="/v1/openapi.json">API 说明 / API description (OpenAPI)</a></li>
<li><a href="/readyz">就绪状态 / readiness</a></li>
</ul>
</body></html>`

// home: GET / — the web app's shell, or the page saying how to build it.
func (s *Server) home(c *fiber.Ctx) error {
	if s.web.built() {
		return s.web.serveFile(c, "index.html")
	}
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	c.Set(fiber.HeaderCacheControl, "no-cache")
	c.Set(fiber.HeaderContentSecurityPolicy, s.web.csp)
	c.Set(fiber.HeaderReferrerPolicy, "same-origin")
	return c.SendString(buildPage)
}
