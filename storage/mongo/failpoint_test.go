package mongo_test

import (
	"context"
	"os"
	"testing"

	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/pairsync/pairsync/storage"
)

// TestFailPoints makes MongoDB fail a transaction's commit once, the ways a
// replica set does under failover and contention (the failCommand fail
// point), and checks that Commit still commits the batch exactly once: one
// head advance, one stamp in the heads feed. It needs MONGODB_URI and a
// server started with enableTestCommands=1 (make verify-mongo); FerretDB
// has no fail points and no transactions.
func TestFailPoints(t *testing.T) {
	uri := os.Getenv(uriEnv)
	if uri == "" {
		t.Skip("MONGODB_URI is not set: fail points need a real MongoDB (FerretDB has no failCommand and no transactions)")
	}
	srv := newServer(t, uri, false)
	for _, tc := range []struct {
		name string
		data bson.D
	}{
		{"commit write conflict (TransientTransactionError)", bson.D{
			{Key: "failCommands", Value: bson.A{"commitTransaction"}}, {Key: "errorCode", Value: 112},
			{Key: "errorLabels", Value: bson.A{"TransientTransactionError"}}}},
		{"commit outcome unknown (primary stepping down)", bson.D{
			{Key: "failCommands", Value: bson.A{"commitTransaction"}}, {Key: "errorCode", Value: 91},
			{Key: "errorLabels", Value: bson.A{"UnknownTransactionCommitResult"}}}},
		{"first statement's connection closed", bson.D{
			{Key: "failCommands", Value: bson.A{"findAndModify"}}, {Key: "closeConnection", Value: true}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			st := srv.open(t)
			ctx := t.Context()
			err := srv.admin.Database("admin").RunCommand(ctx, bson.D{{Key: "configureFailPoint", Value: "failCommand"},
				{Key: "mode", Value: bson.D{{Key: "times", Value: 1}}}, {Key: "data", Value: tc.data}}).Err()
			if err != nil {
				t.Skipf("the server refused the fail point (start mongod with --setParameter enableTestCommands=1): %v", err)
			}
			t.Cleanup(func() {
				_ = srv.admin.Database("admin").RunCommand(context.Background(), bson.D{{Key: "configureFailPoint", Value: "failCommand"}, {Key: "mode", Value: "off"}}).Err()
			})
			c, err := st.Commit(ctx, storage.Batch{Pairing: "p", Puts: []storage.Put{{Key: storage.Key{Collection: "visits", ID: "v1"}, Data: []byte("1")}},
				Receipts: []storage.Receipt{{Replica: "r", Counter: 1, Answer: []byte("ok")}}})
			if err != nil {
				t.Fatalf("commit through the fail point: got error %v, want none (retried)", err)
			}
			head, err := st.Head(ctx, "p")
			if err != nil || head != 1 || c.Head != 1 {
				t.Fatalf("head after one commit: got %d (answer %d, %v), want 1: committed more than once", head, c.Head, err)
			}
			page, err := st.HeadsSince(ctx, 0, 0)
			if err != nil || len(page.Heads) != 1 || page.Last != page.Next {
				t.Fatalf("heads feed after one commit: got %+v, %v; want p once, its stamp the last", page, err)
			}
			if _, err := st.Receipt(ctx, "r", 1); err != nil {
				t.Fatalf("receipt: got %v, want it stored", err)
			}
			t.Logf("fail point %q: committed once", tc.name)
		})
	}
}
