// Package web is the installable field app (PWA) for liaison officers (联络员)
// and enterprise contacts, built with Vue 3 and Vant from this folder
// (make web) and embedded here so pairsyncd serves it (server.Deps.Web).
// On a fresh clone dist/ holds only a placeholder: the server then answers /
// with a page saying how to build the app.
package web

import (
	"embed"
	"io/fs"
)

//go:embed all:dist
var dist embed.FS

// Dist returns the built app's files, rooted at the folder of index.html.
func Dist() fs.FS {
	sub, err := fs.Sub(dist, "dist")
	if err != nil {
		panic(err) // "dist" is a valid path: cannot happen
	}
	return sub
}
