package pairing

import (
	"errors"
	"testing"
)

func TestPolicy(t *testing.T) {
	// Tree: /r/ ├─ /r/a/ ─ /r/a/a1/   └─ /r/b/
	rootAdmin := Principal{UserID: "ra", Role: Admin, OrgPath: "/r/"}
	adminA := Principal{UserID: "aa", Role: Admin, OrgPath: "/r/a/"}
	viewerA := Principal{UserID: "va", Role: Viewer, OrgPath: "/r/a/"}
	officerA := Principal{UserID: "oa", Role: Officer, OrgPath: "/r/a/a1/"}
	contactA := Principal{UserID: "ca", Role: Contact, OrgPath: "/r/a/", Counterparty: "cp1"}
	adminB := Principal{UserID: "ab", Role: Admin, OrgPath: "/r/b/"}

	userInA1 := Object{Kind: KindUser, ID: "u1", OrgPath: "/r/a/a1/", Owner: "u1"}
	officerSelf := Object{Kind: KindUser, ID: "oa", OrgPath: "/r/a/a1/", Owner: "oa"}
	officerDevice := Object{Kind: KindDevice, ID: "d1", OrgPath: "/r/a/a1/", Owner: "oa"}
	unitA1 := Object{Kind: KindOrgUnit, ID: "a1", OrgPath: "/r/a/a1/"}
	unitR := Object{Kind: KindOrgUnit, ID: "r", OrgPath: "/r/"}
	unitB := Object{Kind: KindOrgUnit, ID: "b", OrgPath: "/r/b/"}
	auditA := Object{Kind: KindAudit, OrgPath: "/r/a/a1/"}
	system := Object{Kind: KindSystem}
	cpA := Object{Kind: KindCounterparty, ID: "cp1", OrgPath: "/r/a/a1/"}
	cpARelated := Object{Kind: KindCounterparty, ID: "cp1", OrgPath: "/r/a/a1/", Related: true}

	for _, tc := range []struct {
		name string
		p    Principal
		a    Action
		o    Object
		want error
	}{
		{"admin manages user in subtree", adminA, Manage, userInA1, nil},
		{"root admin manages anyone", rootAdmin, Manage, userInA1, nil},
		{"admin of other subtree cannot see user", adminB, Read, userInA1, ErrNotVisible},
		{"viewer may not read accounts", viewerA, Read, userInA1, ErrForbidden},
		{"officer reads self", officerA, Read, officerSelf, nil},
		{"officer cannot change own account", officerA, Manage, officerSelf, ErrForbidden},
		{"officer cannot see others", officerA, Read, userInA1, ErrNotVisible},
		{"officer revokes own device", officerA, Manage, officerDevice, nil},
		{"contact cannot see officer's device", contactA, Read, officerDevice, ErrNotVisible},
		{"admin B cannot revoke device in A", adminB, Manage, officerDevice, ErrNotVisible},
		{"officer reads own unit", officerA, Read, unitA1, nil},
		{"officer reads root unit", officerA, Read, unitR, nil},
		{"officer cannot rename own unit", officerA, Manage, unitA1, ErrForbidden},
		{"officer cannot see sibling subtree", officerA, Read, unitB, ErrNotVisible},
		{"admin A manages child unit", adminA, Manage, unitA1, nil},
		{"admin A reads root", adminA, Read, unitR, nil},
		{"admin A cannot rename root", adminA, Manage, unitR, ErrForbidden},
		{"admin A cannot see B", adminA, Read, unitB, ErrNotVisible},
		{"viewer reads subtree unit", viewerA, Read, unitA1, nil},
		{"viewer cannot change unit", viewerA, Manage, unitA1, ErrForbidden},
		{"admin reads audit of subtree", adminA, Read, auditA, nil},
		{"admin B cannot read audit of A", adminB, Read, auditA, ErrNotVisible},
		{"viewer cannot read audit", viewerA, Read, auditA, ErrNotVisible},
		{"audit is append-only", adminA, Manage, auditA, ErrForbidden},
		{"admin manages counterparty of subtree", adminA, Manage, cpA, nil},
		{"admin B cannot see counterparty of A", adminB, Read, cpA, ErrNotVisible},
		{"viewer reads counterparty of subtree", viewerA, Read, cpA, nil},
		{"viewer cannot change counterparty", viewerA, Manage, cpA, ErrForbidden},
		{"officer of a pairing with it reads counterparty", officerA, Read, cpARelated, nil},
		{"officer cannot change counterparty", officerA, Manage, cpARelated, ErrForbidden},
		{"officer without a pairing with it sees nothing", officerA, Read, cpA, ErrNotVisible},
		{"contact of another counterparty sees nothing", contactA, Read, cpA, ErrNotVisible},
		{"root admin rotates keys", rootAdmin, Manage, system, nil},
		{"subtree admin cannot rotate keys", adminA, Manage, system, ErrForbidden},
		{"empty org path sees nothing", Principal{UserID: "x", Role: Admin}, Read, userInA1, ErrNotVisible},
		{"unknown role sees nothing", Principal{UserID: "x", Role: "root", OrgPath: "/r/"}, Read, userInA1, ErrNotVisible},
		{"anonymous sees nothing", Principal{}, Read, unitR, ErrNotVisible},
		{"object without path is in no subtree", rootAdmin, Read, Object{Kind: KindUser, ID: "z"}, ErrNotVisible},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := Policy(tc.p, tc.a, tc.o); !errors.Is(got, tc.want) || (tc.want == nil && got != nil) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
		})
	}
}
