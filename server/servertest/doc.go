// Package servertest is the one test world of every package's end-to-end
// tests: real stores (a bolt file and a photo folder in a temporary
// directory, or any storage adapter), seeded with org units, users and
// directory records, and a real server on 127.0.0.1 driven over HTTP.
//
// It does not import package server, so that server's own tests can use it
// too; the caller builds its server from the world's parts and hands it to
// Serve:
//
//	w := servertest.New(t, servertest.Options{Fixture: servertest.EveryRole()})
//	srv, err := server.New(server.Config{}, server.Deps{Store: w.Store, Photos: w.Photos,
//		Now: w.Clock.Now, PasswordParams: w.PasswordParams})
//	if err != nil {
//		t.Fatal(err)
//	}
//	w.Serve(srv)
//	token := w.Token("officerA")
//	r := w.Call("GET", "/v1/sync/scopes", token, nil)
//
// Every user of a fixture signs in with Password. Everything the world opens
// is closed when the test ends.
package servertest
