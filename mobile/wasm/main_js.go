//go:build js && wasm

package main

import "syscall/js"

// main exports the functions of api.go on globalThis.syncproto, each as
// fn(...jsonStrings) → jsonString, then flags readiness and stays alive.
func main() {
	obj := js.Global().Get("Object").New()
	for name := range functions {
		obj.Set(name, js.FuncOf(func(_ js.Value, args []js.Value) any {
			ss := make([]string, len(args))
			for i, a := range args {
				if a.Type() == js.TypeString {
					ss[i] = a.String()
				} else {
					ss[i] = js.Global().Get("JSON").Call("stringify", a).String()
				}
			}
			return call(name, ss)
		}))
	}
	obj.Set("version", 1)
	js.Global().Set("syncproto", obj)
	if ready := js.Global().Get("__syncprotoReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {}
}
