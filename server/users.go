package server

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"net"
	"net/http"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/gofiber/fiber/v2"
	"github.com/google/uuid"
	"rsc.io/qr"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/storage"
	"github.com/pairsync/pairsync/syncproto"
)

// userView is a user as the API shows it: never the password hash; the
// phone number only to those who may manage the account and to its owner.
type userView struct {
	ID           string    `json:"id"`
	Username     string    `json:"username"`
	Name         string    `json:"name"`
	Phone        string    `json:"phone,omitempty"`
	Role         string    `json:"role"`
	OrgUnit      string    `json:"org_unit,omitempty"`
	OrgPath      string    `json:"org_path,omitempty"`
	Counterparty string    `json:"counterparty,omitempty"`
	Disabled     bool      `json:"disabled"`
	Activated    bool      `json:"activated"`
	CreatedAt    time.Time `json:"created_at"`
	UpdatedAt    time.Time `json:"updated_at"`
	Rev          uint64    `json:"rev"`

	// MustChangePassword: the password is one the person did not choose
	// (the first administrator's); the apps prompt them to change it.
	MustChangePassword bool `json:"must_change_password,omitempty"`

	// Language is the app language the person chose ("en"; absent:
	// Chinese): their notifications are written in it.
	Language string `json:"language,omitempty"`
}

func (s *Server) viewUser(u storage.User, orgPath string, showPhone bool) userView {
	v := userView{ID: u.ID, Username: u.Username, Name: u.Name, Role: u.Role, OrgUnit: u.OrgUnit, OrgPath: orgPath,
		Counterparty: u.Counterparty, Disabled: u.Disabled, Activated: u.PasswordHash != "", MustChangePassword: u.MustChangePassword, Language: u.Language,
		CreatedAt: u.CreatedAt, UpdatedAt: u.UpdatedAt, Rev: u.Rev}
	if showPhone {
		v.Phone = u.Phone
	}
	return v
}

// loadedUser is what loadUser hands to the handlers.
type loadedUser struct {
	user    storage.User
	orgPath string
}

// loadUser resolves /v1/users/:id for the policy.
func loadUser(s *Server, c *fiber.Ctx) (pairing.Object, any, error) {
	u, err := s.store.User(c.UserContext(), c.Params("id"))
	if err != nil {
		return pairing.Object{}, nil, err
	}
	path, err := s.orgPath(c.UserContext(), u.OrgUnit)
	if err != nil {
		return pairing.Object{}, nil, err
	}
	return pairing.Object{Kind: pairing.KindUser, ID: u.ID, OrgPath: path, Owner: u.ID}, loadedUser{u, path}, nil
}

// getUser: GET /v1/users/:id.
func (s *Server) getUser(c *fiber.Ctx) error {
	lu := loaded[loadedUser](c)
	return c.JSON(s.viewUser(lu.user, lu.orgPath, true))
}

type userList struct {
	Users []userView `json:"users"`
	More  bool       `json:"more"`
	// Next is the value to pass as ?after= for the following page.
	Next string `json:"next,omitempty"`
}

// listUsers: GET /v1/users?search=&role=&org_unit=&after=&limit= — the
// users of the caller's subtree (or of a unit within it).
func (s *Server) listUsers(c *fiber.Ctx) error {
	ctx, p := c.UserContext(), principal(c)
	root := p.OrgPath
	if id := c.Query("org_unit"); id != "" {
		u, err := s.store.OrgUnit(ctx, id)
		if err != nil && !errors.Is(err, storage.ErrNotFound) {
			return err
		}
		root = u.Path // "" for an unknown unit: the policy then refuses
	}
	if err := s.authorize(c, pairing.Read, pairing.Object{Kind: pairing.KindUser, OrgPath: root}); err != nil {
		return err
	}
	limit, err := queryLimit(c, 100, 500)
	if err != nil {
		return err
	}
	units, err := s.store.OrgUnits(ctx, root)
	if err != nil {
		return err
	}
	paths := make(map[string]string, len(units))
	ids := make([]string, 0, len(units))
	for _, u := range units {
		paths[u.ID] = u.Path
		ids = append(ids, u.ID)
	}
	users, more, err := s.store.ListUsers(ctx, storage.UserQuery{Search: c.Query("search"), Role: c.Query("role"),
		After: c.Query("after"), Limit: limit, OrgUnits: ids})
	if err != nil {
		return err
	}
	out := userList{Users: make([]userView, 0, len(users)), More: more}
	for _, u := range users {
		out.Users = append(out.Users, s.viewUser(u, paths[u.OrgUnit], true))
	}
	if more && len(users) > 0 {
		out.Next = users[len(users)-1].Username
	}
	return c.JSON(out)
}

func queryLimit(c *fiber.Ctx, def, maxN int) (int, error) {
	v := c.Query("limit")
	if v == "" {
		return def, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 || n > maxN {
		return 0, badRequest("limit", "limit must be a number from 1 to %d", maxN)
	}
	return n, nil
}

type createUserRequest struct {
	Username     string `json:"username"`
	Name         string `json:"name"`
	Phone        string `json:"phone"`
	Role         string `json:"role"`
	OrgUnit      string `json:"org_unit"`
	Counterparty string `json:"counterparty"`
}

type activationView struct {
	Code      string    `json:"code"`
	ExpiresAt time.Time `json:"expires_at"`
	// URL is the sign-up link the QR code holds; the code travels in the
	// fragment so it never reaches a server log.
	URL string `json:"url"`
	// QRPNG is a PNG image of the link, base64-encoded, to print or show.
	QRPNG string `json:"qr_png"`
	// SentToPhone: the link is also on its way to the person's phone (a
	// channel that reaches phones is configured and they have a number).
	SentToPhone bool `json:"sent_to_phone"`
}

type createdUser struct {
	User       userView       `json:"user"`
	Activation activationView `json:"activation"`
}

// createUser: POST /v1/users. There are no default passwords: the answer
// carries a one-time activation code (and its QR image) valid for 72 h.
func (s *Server) createUser(c *fiber.Ctx) error {
	var req createUserRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx := c.UserContext()
	if err := validateUserFields(req.Username, req.Name, req.Phone, req.Role, req.Counterparty); err != nil {
		return err
	}
	base, err := s.activationBase(c)
	if err != nil {
		return err
	}
	unit, err := s.userRefs(c, req.OrgUnit, req.Counterparty)
	if err != nil {
		return err
	}
	now := s.now().UTC()
	u, err := s.store.CreateUser(ctx, storage.User{
		ID: uuid.Must(uuid.NewV7()).String(), Username: req.Username, Name: req.Name, Phone: req.Phone,
		Role: req.Role, OrgUnit: unit.ID, Counterparty: req.Counterparty, CreatedAt: now, UpdatedAt: now,
	})
	if errors.Is(err, storage.ErrExists) {
		// Only a user name is unique. A phone number is not, so the answer
		// never tells whether a number is registered, in the caller's
		// subtree or anywhere else (issue 18 L3).
		return badRequest("username", "this user name is already taken: choose another")
	}
	if err != nil {
		return err
	}
	act, err := s.newActivation(ctx, c, base, u, unit.Path)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "user_create", Result: "ok", Object: "user:" + u.ID, OrgPath: unit.Path, Detail: "role " + u.Role})
	return c.Status(http.StatusCreated).JSON(createdUser{User: s.viewUser(u, unit.Path, true), Activation: act})
}

// userUnit resolves the org unit a user is moved to, checked by the
// reference checker (userRefs).
func (s *Server) userUnit(c *fiber.Ctx, id string) (storage.OrgUnit, error) {
	return s.userRefs(c, id, "")
}

func validateUserFields(username, name, phone, role, counterparty string) error {
	switch {
	case !validUsername(username):
		return badRequest("username", "username must be 2 to 64 letters, digits, '.', '_' or '-'")
	case validPhone(username):
		// A phone number signs in by itself; a user name shaped like one
		// could equal another user's phone and take over their sign-in.
		// Names and phones are disjoint by shape, so a typed
		// login resolves one account whatever is stored.
		return badRequest("username", "a user name cannot be a phone number: put the number in phone (it signs in too) and choose a name with a letter")
	case utf8.RuneCountInString(name) > 64 || !utf8.ValidString(name):
		return badRequest("name", "name must be at most 64 characters")
	case pairing.HasBidiControl(name):
		return &Error{Status: http.StatusBadRequest, Wire: *pairing.BidiRefusal("name")}
	case phone != "" && !validPhone(phone):
		return badRequest("phone", "phone must be 5 to 20 digits, optionally starting with +")
	case !pairing.Role(role).Valid():
		return badRequest("role", "role must be admin, viewer, officer or contact")
	case role == string(pairing.Contact) && counterparty == "":
		return badRequest("counterparty", "a contact belongs to a counterparty: set counterparty")
	case role != string(pairing.Contact) && counterparty != "":
		return badRequest("counterparty", "only contacts belong to a counterparty")
	case len(counterparty) > 64:
		return badRequest("counterparty", "counterparty id too long")
	}
	return nil
}

func validUsername(s string) bool {
	if len(s) < 2 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func validPhone(s string) bool {
	s = strings.TrimPrefix(s, "+")
	if len(s) < 5 || len(s) > 20 {
		return false
	}
	for _, r := range s {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

// Activation codes: 12 characters of Crockford's base32 (no I, L, O, U),
// shown as XXXX-XXXX-XXXX: 60 bits, single use, 72 hours, throttled.
const (
	activationCodeLen = 12
	crockford         = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
)

func newActivationCode() string {
	b := make([]byte, activationCodeLen)
	_, _ = rand.Read(b)
	for i := range b {
		b[i] = crockford[b[i]&31]
	}
	return string(b)
}

// normalizeCode accepts a code as people type it: any case, with dashes or
// spaces, O for 0 and I or L for 1.
func normalizeCode(s string) string {
	s = strings.ToUpper(s)
	var b strings.Builder
	for _, r := range s {
		switch {
		case r == '-' || r == ' ':
		case r == 'O':
			b.WriteByte('0')
		case r == 'I' || r == 'L':
			b.WriteByte('1')
		case strings.ContainsRune(crockford, r):
			b.WriteRune(r)
		default:
			return ""
		}
	}
	return b.String()
}

// newActivation stores a fresh code for the user (replacing older ones),
// sends the link to their phone when a channel reaches it
// (notifyActivation), and returns it with the sign-up link and its QR
// image.
func (s *Server) newActivation(ctx context.Context, c *fiber.Ctx, base string, u storage.User, orgPath string) (activationView, error) {
	code := newActivationCode()
	now := s.now().UTC()
	a := storage.Activation{CodeHash: auth.HashSecret(code), UserID: u.ID, CreatedBy: principal(c).UserID,
		CreatedAt: now, ExpiresAt: now.Add(activationTTL)}
	if err := s.store.CreateActivation(ctx, a); err != nil {
		return activationView{}, err
	}
	shown := code[:4] + "-" + code[4:8] + "-" + code[8:]
	// The link carries the code without its dashes: a shorter QR, and a URL
	// that reads as one word (the app accepts both forms).
	link := base + "/activate#code=" + code
	qrc, err := qr.Encode(link, qr.M)
	if err != nil {
		return activationView{}, err
	}
	qrc.Scale = 6
	sent, err := s.notifyActivation(ctx, u, orgPath, a, link)
	if err != nil {
		return activationView{}, err
	}
	return activationView{Code: shown, ExpiresAt: a.ExpiresAt, URL: link, QRPNG: base64.StdEncoding.EncodeToString(qrc.PNG()), SentToPhone: sent}, nil
}

// activationBase is the base URL of activation links: Config.PublicURL.
// Without it, only a request to a loopback host (a server tried out on
// one machine) may build links from its own Host header; any other request
// is refused before anything is written, because a Host header is the
// client's to choose and a link to an attacker's host would carry the code
// there.
func (s *Server) activationBase(c *fiber.Ctx) (string, error) {
	if s.cfg.PublicURL != "" {
		return strings.TrimRight(s.cfg.PublicURL, "/"), nil
	}
	host := c.Hostname()
	name := host
	if h, _, err := net.SplitHostPort(host); err == nil {
		name = h
	}
	name = strings.Trim(name, "[]")
	if ip := net.ParseIP(name); (ip != nil && ip.IsLoopback()) || strings.EqualFold(name, "localhost") {
		return c.Protocol() + "://" + host, nil
	}
	return "", errorf(http.StatusConflict, syncproto.CodeNotConfigured,
		"activation links need the server's public address: the operator sets -public-url (PAIRSYNC_PUBLIC_URL) to the URL people open, then try again")
}

type updateUserRequest struct {
	Rev      uint64  `json:"rev"`
	Name     *string `json:"name"`
	Phone    *string `json:"phone"`
	Role     *string `json:"role"`
	OrgUnit  *string `json:"org_unit"`
	Disabled *bool   `json:"disabled"`
}

// updateUser: PATCH /v1/users/:id — name, phone, role, org unit, disabled.
// Disabling ends the user's sessions at once; a role change reaches the
// user's tokens at their next refresh (within one access-token lifetime).
func (s *Server) patchUser(c *fiber.Ctx) error {
	var req updateUserRequest
	if err := bind(c, &req); err != nil {
		return err
	}
	ctx, p := c.UserContext(), principal(c)
	lu := loaded[loadedUser](c)
	u := lu.user
	if req.Rev != 0 && req.Rev != u.Rev {
		return &Error{Status: http.StatusConflict, Wire: *conflictWire()}
	}
	path := lu.orgPath
	var changed []string
	if req.Name != nil {
		u.Name = *req.Name
		changed = append(changed, "name")
	}
	if req.Phone != nil {
		u.Phone = *req.Phone
		changed = append(changed, "phone")
	}
	if req.Role != nil && *req.Role != u.Role {
		if u.ID == p.UserID {
			return badRequest("role", "you cannot change your own role")
		}
		u.Role = *req.Role
		changed = append(changed, "role")
	}
	if req.OrgUnit != nil && *req.OrgUnit != u.OrgUnit {
		unit, err := s.userUnit(c, *req.OrgUnit)
		if err != nil {
			return err
		}
		u.OrgUnit, path = unit.ID, unit.Path
		changed = append(changed, "org_unit")
	}
	if req.Disabled != nil && *req.Disabled != u.Disabled {
		if u.ID == p.UserID {
			return badRequest("disabled", "you cannot disable yourself")
		}
		u.Disabled = *req.Disabled
		changed = append(changed, "disabled")
	}
	if err := validateUserFields(u.Username, u.Name, u.Phone, u.Role, u.Counterparty); err != nil {
		return err
	}
	// A phone number is not unique: giving one answers the same whoever
	// else has it (issue 18 L3).
	nu, err := s.store.UpdateUser(ctx, u)
	if err != nil {
		return err
	}
	if nu.Disabled {
		if _, err := s.store.RevokeSessions(ctx, storage.SessionFilter{UserID: nu.ID}, s.now().UTC()); err != nil {
			return err
		}
	}
	s.audit(c, storage.AuditEvent{Action: "user_update", Result: "ok", Object: "user:" + nu.ID, OrgPath: path,
		Detail: "changed " + strings.Join(changed, ",")})
	return c.JSON(s.viewUser(nu, path, true))
}

// resetUser: POST /v1/users/:id/activation — a new one-time code for the
// user. It resets the password: the old one stops working and every session
// of the user ends.
func (s *Server) resetUser(c *fiber.Ctx) error {
	ctx := c.UserContext()
	lu := loaded[loadedUser](c)
	if lu.user.ID == principal(c).UserID {
		return badRequest("id", "use the password route to change your own password")
	}
	base, err := s.activationBase(c)
	if err != nil {
		return err
	}
	u, err := s.updateUser(ctx, lu.user.ID, func(u *storage.User) error {
		u.PasswordHash = ""
		u.MustChangePassword = false // the person chooses the next one
		return nil
	})
	if err != nil {
		return err
	}
	if _, err := s.store.RevokeSessions(ctx, storage.SessionFilter{UserID: u.ID}, s.now().UTC()); err != nil {
		return err
	}
	act, err := s.newActivation(ctx, c, base, u, lu.orgPath)
	if err != nil {
		return err
	}
	s.audit(c, storage.AuditEvent{Action: "user_reset", Result: "ok", Object: "user:" + u.ID, OrgPath: lu.orgPath})
	return c.Status(http.StatusCreated).JSON(createdUser{User: s.viewUser(u, lu.orgPath, true), Activation: act})
}
