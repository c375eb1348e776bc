// Package auth holds Pairsync's credentials: argon2id password hashing with
// bounded concurrency, and (with the identity work) JWT access tokens and
// rotating refresh tokens.
//
//	h := auth.NewHasher(auth.DefaultParams, 4)
//	phc, err := h.Hash(ctx, "correct horse battery")
//	ok, err := h.Verify(ctx, "correct horse battery", phc)
package auth
