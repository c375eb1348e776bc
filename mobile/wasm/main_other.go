//go:build !(js && wasm)

// Command wasm is syncproto compiled to WebAssembly for the web app: it
// exports syncproto's Merge, local writes (Writer.Set, Delete, Keep),
// Rebuild, change building and the sync messages' encoders and decoders to
// JavaScript as globalThis.syncproto, JSON strings in and out (api.go).
// Build it with
//
//	GOOS=js GOARCH=wasm go build -trimpath -ldflags="-s -w" -o mobile/web/public/syncproto.wasm ./mobile/wasm
//
// (make web does). Built for any other platform it only says so.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "mobile/wasm runs in a browser: build it with GOOS=js GOARCH=wasm (make web)")
	os.Exit(2)
}
