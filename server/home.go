package server

import (
	"github.com/gofiber/fiber/v2"
)

// homePage is served at / until the web app is built into the binary. It
// tells the person who opened the printed URL what is running and where the
// API is, in Chinese first and English second.
const homePage = `<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<title>Pairsync 结对共建</title>
<style>body{font-family:system-ui,"PingFang SC","Microsoft YaHei",sans-serif;max-width:40rem;margin:2rem auto;padding:0 1rem;line-height:1.6;color:#222}code{background:#f3f3f3;padding:0 .3em}</style>
</head><body>
<h1>Pairsync 结对共建</h1>
<p>服务器正在运行。此版本尚未包含网页应用；客户端通过下面的 API 连接。</p>
<p>The server is running. This build does not include the web app yet; clients connect through the API below.</p>
<ul>
<li><a href="/v1/openapi.json">API 说明 / API description (OpenAPI)</a></li>
<li><a href="/readyz">就绪状态 / readiness</a></li>
</ul>
</body></html>`

func (s *Server) home(c *fiber.Ctx) error {
	c.Set(fiber.HeaderContentType, fiber.MIMETextHTMLCharsetUTF8)
	return c.SendString(homePage)
}
