// Package storagetest is the conformance suite every storage adapter passes:
// one set of cases, written against the contracts in package storage, run
// against each backend from that adapter's own tests.
//
//	func TestConformance(t *testing.T) {
//		storagetest.TestStoreWith(t, openTemp, storagetest.Options{
//			Reopen: func(t *testing.T, closed storage.Store) storage.Store {
//				return openAt(t, closed.(*bolt.DB).Path())
//			},
//		})
//	}
//
//	func TestPhotoConformance(t *testing.T) {
//		storagetest.TestPhotos(t, func(t *testing.T) storage.Photos { return openTempDir(t) })
//	}
//
// Each case opens a fresh, empty store with the adapter's open function, so
// cases are independent and each failure names its case. Failures read
// "got X, want Y".
//
// # What the suite pins where the contract comments are silent
//
//   - PageLimit.Bytes counts the Data of the records only, and is inclusive:
//     the Data of a page of two or more records adds up to at most Bytes.
//     Pages are filled greedily: a page with More stopped at a limit.
//   - A failed Commit burns no sequence number.
//   - Commit returns storage.ErrInvalid for puts without a Pairing and for a
//     put with an empty Collection or ID; a batch naming one key, or one
//     (replica, counter), twice fails with some error and writes nothing.
//   - Commit with a done context returns its error (errors.Is
//     context.Canceled) and writes nothing.
//   - ListUsers' more reports whether more users matching the query follow.
//   - Create* ignore the Rev passed in and return Rev 1; a zero CreatedAt
//     becomes about now; UpdateUser keeps CreatedAt; UpdateDevice refuses to
//     move a device to another user.
//   - PutPhoto reads at most size+1 bytes; every Photos method returns
//     storage.ErrInvalid for a malformed sum; a negative size fails.
//   - Every call on a closed Store fails (and does not panic); the identity
//     calls fail with storage.ErrUnavailable.
//
// The identity contracts (storage/identity.go) are found on the store by
// type assertion until storage.Store includes them; a store without one
// skips its cases, saying so. For them the suite pins:
//
//   - Create* return Rev 1 and stamp a zero CreatedAt (IssuedAt, Time) with
//     about now; OrgUnit.SLADays nil and empty compare equal.
//   - OrgUnits' prefix is a plain string prefix ("/c1" matches "/c10/");
//     an org-unit ID holding "/" is storage.ErrInvalid.
//   - RotateSigningKey returns storage.ErrExists for a taken ID; the active
//     key is never pruned.
//   - Token and code hashes are lowercase hex SHA-256: CreateSession,
//     RotateSession's next and CreateActivation return storage.ErrInvalid
//     otherwise; lookups of a malformed hash are storage.ErrNotFound.
//     CreateSession also refuses an empty Family or UserID or a zero
//     ExpiresAt; CreateActivation an empty UserID or a zero ExpiresAt.
//   - RotateSession: next takes Family, UserID, DeviceID and ExpiresAt from
//     the old token (a later ExpiresAt does not extend the family); naming
//     another family, user or device is storage.ErrInvalid. A token whose
//     family has ended (ExpiresAt ≤ now) is storage.ErrNotFound. On reuse
//     the old token is returned as it was before the call.
//   - A live token is one neither revoked nor expired at now: RevokeSessions
//     counts live tokens, used ones included; an expired one may be pruned.
//     BindSessionDevice returns storage.ErrNotFound for a family without an
//     unrevoked token.
//   - ConsumeActivation accepts a code while ExpiresAt > now; LiveActivation
//     answers as ConsumeActivation would, without using the code.
//   - AppendAudit ignores the events' Seq, refuses an event with an empty
//     Action (storage.ErrInvalid, nothing stored); AuditQuery.Since is
//     inclusive, Until exclusive, OrgPath a string prefix.
package storagetest
