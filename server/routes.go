package server

import (
	"net/http"
	"strings"
	"time"

	"github.com/gofiber/fiber/v2"
	"github.com/valyala/fasthttp"

	"github.com/pairsync/pairsync/server/auth"
	"github.com/pairsync/pairsync/server/pairing"
	"github.com/pairsync/pairsync/syncproto"
)

// route is one entry of the route table: the handler and what the OpenAPI
// description says about it. Every route is declared here and nowhere else;
// a test fails when the app serves a route the table does not describe.
type route struct {
	Method  string
	Path    string // Fiber pattern, e.g. /v1/visits/:id
	Summary string
	Tag     string
	// Request and Response are zero values of the body types; their OpenAPI
	// schemas are generated from them (nil: no body / not described).
	Request  any
	Response any
	// Timeout overrides Config.RequestTimeout for this route; negative means
	// no deadline (streams that end by themselves).
	Timeout time.Duration
	// MaxBody overrides Config.BodyLimit for this route (uploads).
	MaxBody int
	// Auth requires a valid access token.
	Auth bool
	// SignIn marks the routes that hash a password: they are admitted by
	// their own bounded pool (Config.SignInMaxInFlight), never by the
	// shared in-flight slots, so a flood of sign-ins cannot starve sync
	// (SECURITY.md 14).
	SignIn bool
	// Load resolves the object named by the path's :id; the router asks
	// pairing.Policy for Action on it before Handler runs. Every route with
	// an id has one (a test checks).
	Load    loader
	Action  pairing.Action
	Handler fiber.Handler
}

// routeTable lists every route the server answers.
func (s *Server) routeTable() []route {
	return []route{
		{Method: fiber.MethodGet, Path: "/", Tag: "web", Summary: "The field app (PWA), or a page saying how to build it (make web)", Handler: s.home},
		{Method: fiber.MethodGet, Path: "/healthz", Tag: "ops", Summary: "Process liveness", Response: health{}, Handler: s.healthz},
		{Method: fiber.MethodGet, Path: "/readyz", Tag: "ops", Summary: "Readiness: storage reachable and not shutting down", Response: health{}, Handler: s.readyz},
		{Method: fiber.MethodGet, Path: "/v1/openapi.json", Tag: "ops", Summary: "This OpenAPI description", Handler: s.openAPIHandler},

		// Sign-in and tokens (public: they carry their own credentials).
		{Method: fiber.MethodPost, Path: "/v1/auth/login", Tag: "auth", Summary: "Sign in with user name (or phone) and password", Request: loginRequest{}, Response: tokenResponse{}, SignIn: true, Handler: s.login},
		{Method: fiber.MethodPost, Path: "/v1/auth/refresh", Tag: "auth", Summary: "Exchange a refresh token (single use) for new tokens", Request: refreshRequest{}, Response: tokenResponse{}, Handler: s.refresh},
		{Method: fiber.MethodPost, Path: "/v1/auth/logout", Tag: "auth", Summary: "End the refresh token's sign-in", Request: refreshRequest{}, Handler: s.logout},
		{Method: fiber.MethodPost, Path: "/v1/auth/activate", Tag: "auth", Summary: "Set your password with a one-time activation code, and sign in", Request: activateRequest{}, Response: tokenResponse{}, SignIn: true, Handler: s.activate},
		{Method: fiber.MethodPost, Path: "/v1/auth/activation-info", Tag: "auth", Summary: "Whom a one-time activation code is for (name, user name, role, org unit or counterparty name; no id, no phone), without using it; throttled like activation", Request: activationInfoRequest{}, Response: activationInfo{}, Handler: s.activationInfo},
		{Method: fiber.MethodGet, Path: "/v1/auth/password-rules", Tag: "auth", Summary: "What a new password must be (shown before it is typed)", Response: auth.PasswordRules{}, Handler: s.passwordRules},
		{Method: fiber.MethodGet, Path: "/v1/auth/jwks.json", Tag: "auth", Summary: "Public keys that verify access tokens (JWKS)", Response: auth.JWKS{}, Handler: s.jwks},
		{Method: fiber.MethodPost, Path: "/v1/auth/keys/rotate", Tag: "auth", Summary: "Rotate the token-signing key (administrators of a root unit)", Auth: true, Handler: s.rotateKeys},

		// The signed-in user and their devices.
		{Method: fiber.MethodGet, Path: "/v1/me", Tag: "users", Summary: "The signed-in user", Response: userView{}, Auth: true, Handler: s.me},
		{Method: fiber.MethodPatch, Path: "/v1/me", Tag: "users", Summary: "Keep the language you chose in an app ({\"language\":\"en\"} or \"zh\"): your notifications are written in it", Request: patchMeRequest{}, Response: userView{}, Auth: true, Handler: s.patchMe},
		{Method: fiber.MethodPost, Path: "/v1/me/password", Tag: "users", Summary: "Change your password (ends your other sessions)", Request: changePasswordRequest{}, Response: tokenResponse{}, Auth: true, SignIn: true, Handler: s.changePassword},
		{Method: fiber.MethodGet, Path: "/v1/me/messages", Tag: "users", Summary: "Your in-app messages, newest first, and how many are unread: ?offset=&limit=", Response: messageList{}, Auth: true, Handler: s.listMessages},
		{Method: fiber.MethodPost, Path: "/v1/me/messages/read", Tag: "users", Summary: "A phone's reads of your messages, made offline: {reads:[{id,at}]}; each is read once, at its time (never before it was written nor after now); anyone else's or an unknown id is skipped alike", Request: readMessagesRequest{}, Response: messageList{}, Auth: true, Handler: s.readMessages},
		{Method: fiber.MethodPost, Path: "/v1/me/messages/:id/read", Tag: "users", Summary: "Mark one of your messages read (anyone else's: 404)", Response: messageView{}, Auth: true, Load: loadMessage, Action: pairing.Read, Handler: s.readMessage},
		{Method: fiber.MethodGet, Path: "/v1/me/notify-settings", Tag: "users", Summary: "The channels you are notified on, quiet hours and the hourly limit", Response: notifySettings{}, Auth: true, Handler: s.getNotifySettings},
		{Method: fiber.MethodPut, Path: "/v1/me/notify-settings", Tag: "users", Summary: "Choose the channels you are notified on (in-app messages are always on)", Request: notifySettingsRequest{}, Response: notifySettings{}, Auth: true, Handler: s.putNotifySettings},
		{Method: fiber.MethodPost, Path: "/v1/devices", Tag: "devices", Summary: "Register this device; its id is the replica id of its changes", Request: registerDeviceRequest{}, Response: registeredDevice{}, Auth: true, Handler: s.registerDevice},
		{Method: fiber.MethodGet, Path: "/v1/devices", Tag: "devices", Summary: "Your devices, or (admins) a user's: ?user=ID", Auth: true, Handler: s.listDevices},
		// Before /v1/devices/:id, which would take "attention" for an id
		// (server/console.go, for the console's devices needing attention).
		{Method: fiber.MethodGet, Path: "/v1/devices/attention", Tag: "devices", Summary: "Devices of your subtree's users not synced for ?hours= (default 24), longest idle first (administrators)", Response: idleDeviceList{}, Auth: true, Handler: s.attentionDevices},
		{Method: fiber.MethodGet, Path: "/v1/devices/:id", Tag: "devices", Summary: "One device", Response: deviceView{}, Auth: true, Load: loadDevice, Action: pairing.Read, Handler: s.getDevice},
		{Method: fiber.MethodPost, Path: "/v1/devices/:id/revoke", Tag: "devices", Summary: "Revoke a device: its sessions end, its next sync is told to wipe", Response: deviceView{}, Auth: true, Load: loadDevice, Action: pairing.Manage, Handler: s.revokeDevice},

		// Administration of users and the org tree.
		{Method: fiber.MethodGet, Path: "/v1/users", Tag: "users", Summary: "Users of your subtree: ?search=&role=&org_unit=&after=&limit=", Auth: true, Response: userList{}, Handler: s.listUsers},
		{Method: fiber.MethodPost, Path: "/v1/users", Tag: "users", Summary: "Create a user; answers a one-time activation code and its QR image", Request: createUserRequest{}, Response: createdUser{}, Auth: true, Handler: s.createUser},
		{Method: fiber.MethodGet, Path: "/v1/users/:id", Tag: "users", Summary: "One user", Response: userView{}, Auth: true, Load: loadUser, Action: pairing.Read, Handler: s.getUser},
		{Method: fiber.MethodPatch, Path: "/v1/users/:id", Tag: "users", Summary: "Change name, phone, role, org unit or disabled", Request: updateUserRequest{}, Response: userView{}, Auth: true, Load: loadUser, Action: pairing.Manage, Handler: s.patchUser},
		{Method: fiber.MethodPost, Path: "/v1/users/:id/activation", Tag: "users", Summary: "Reset a user's password: a new one-time activation code", Response: createdUser{}, Auth: true, Load: loadUser, Action: pairing.Manage, Handler: s.resetUser},
		{Method: fiber.MethodGet, Path: "/v1/org-units", Tag: "org-units", Summary: "Org units you may see: your subtree and the units above you", Auth: true, Handler: s.listOrgUnits},
		{Method: fiber.MethodPost, Path: "/v1/org-units", Tag: "org-units", Summary: "Create an org unit under a parent in your subtree", Request: orgUnitRequest{}, Response: orgUnitView{}, Auth: true, Handler: s.createOrgUnit},
		{Method: fiber.MethodGet, Path: "/v1/org-units/:id", Tag: "org-units", Summary: "One org unit", Response: orgUnitView{}, Auth: true, Load: loadOrgUnit, Action: pairing.Read, Handler: s.getOrgUnit},
		{Method: fiber.MethodPatch, Path: "/v1/org-units/:id", Tag: "org-units", Summary: "Rename an org unit, change its kind or SLA days", Request: orgUnitRequest{}, Response: orgUnitView{}, Auth: true, Load: loadOrgUnit, Action: pairing.Manage, Handler: s.patchOrgUnit},
		// The directory: counterparties (共建单位) and pairings (结对), written
		// through the commit path so phones receive them by sync.
		{Method: fiber.MethodGet, Path: "/v1/counterparties", Tag: "directory", Summary: "Counterparties you may see: ?search=&kind=&org_unit=&after=&limit=", Response: counterpartyList{}, Auth: true, Handler: s.listCounterparties},
		{Method: fiber.MethodPost, Path: "/v1/counterparties", Tag: "directory", Summary: "Create a counterparty (an enterprise's id is its 统一社会信用代码); likely duplicates come back as warnings", Request: fieldsRequest{}, Response: writeAnswer{}, Auth: true, Handler: s.createCounterparty},
		{Method: fiber.MethodGet, Path: "/v1/counterparties/:id", Tag: "directory", Summary: "One counterparty", Response: recordView{}, Auth: true, Load: loadCounterparty, Action: pairing.Read, Handler: s.getCounterparty},
		{Method: fiber.MethodPatch, Path: "/v1/counterparties/:id", Tag: "directory", Summary: "Change a counterparty's fields (pass seq to refuse a lost update)", Request: fieldsRequest{}, Response: writeAnswer{}, Auth: true, Load: loadCounterparty, Action: pairing.Manage, Handler: s.patchCounterparty},
		{Method: fiber.MethodGet, Path: "/v1/pairings", Tag: "directory", Summary: "Pairings you may see: ?search=&status=&org_unit=&officer=&counterparty=&after=&limit=", Response: pairingList{}, Auth: true, Handler: s.listPairings},
		{Method: fiber.MethodPost, Path: "/v1/pairings", Tag: "directory", Summary: "Create a pairing: branches ↔ counterparties, officers (primary first), contacts, period", Request: fieldsRequest{}, Response: writeAnswer{}, Auth: true, Handler: s.createPairing},
		// Before /v1/pairings/:id, which would take "import-template" for an id.
		{Method: fiber.MethodGet, Path: "/v1/pairings/import-template", Tag: "directory", Summary: "The .xlsx template of the bulk import: sheets 共建单位 and 结对, and a 说明 sheet describing their columns", Auth: true, Handler: s.importTemplate},
		{Method: fiber.MethodPost, Path: "/v1/pairings/import", Tag: "directory", Summary: "Bulk-import counterparties and pairings from an .xlsx workbook (the body, or multipart field \"file\"; at most 10 MiB and 5,000 rows a sheet); each row is imported or reported; ?dry_run=true checks without writing (administrators)", Response: importReport{}, Auth: true, Timeout: importTimeout, MaxBody: importMaxBytes + 1<<20, Handler: s.importDirectory},
		{Method: fiber.MethodGet, Path: "/v1/pairings/:id", Tag: "directory", Summary: "One pairing", Response: recordView{}, Auth: true, Load: loadPairing, Action: pairing.Read, Handler: s.getPairing},
		{Method: fiber.MethodGet, Path: "/v1/pairings/:id/people", Tag: "directory", Summary: "The people of a pairing (officers, contacts, administrators above it): names, roles and device ids, so screens name writers, never ids", Response: peopleView{}, Auth: true, Load: loadPairing, Action: pairing.Read, Handler: s.getPairingPeople},
		{Method: fiber.MethodGet, Path: "/v1/pairings/:id/conflicts", Tag: "directory", Summary: "Open conflicts of a pairing: each field with its values, who wrote each (name) and when", Response: conflictList{}, Auth: true, Load: loadPairing, Action: pairing.Read, Handler: s.listPairingConflicts},
		{Method: fiber.MethodPatch, Path: "/v1/pairings/:id", Tag: "directory", Summary: "Change a pairing: status, officers, contacts, period…", Request: fieldsRequest{}, Response: writeAnswer{}, Auth: true, Load: loadPairing, Action: pairing.Manage, Handler: s.patchPairing},
		{Method: fiber.MethodPost, Path: "/v1/pairings/:id/end", Tag: "directory", Summary: "End a pairing: read-only in the field from now on", Request: endPairingRequest{}, Response: writeAnswer{}, Auth: true, Load: loadPairing, Action: pairing.Manage, Handler: s.endPairing},

		// The field work: visits (走访), issues (诉求) and their event log,
		// practical projects (实事项目). Phones write them by sync; these
		// routes list them and carry the administrators' actions.
		{Method: fiber.MethodGet, Path: "/v1/schema", Tag: "schema", Summary: "Collections, fields, limits, issue transitions per role, project moves, SLA defaults, photo policy", Response: schemaAnswer{}, Auth: true, Handler: s.schema},
		{Method: fiber.MethodGet, Path: "/v1/visits", Tag: "visits", Summary: "Visits: ?pairing=&org_unit=&from=&to=&status=&officer=&counterparty=&q=&offset=&limit=", Response: visitList{}, Auth: true, Handler: s.listVisits},
		{Method: fiber.MethodGet, Path: "/v1/visits/:id", Tag: "visits", Summary: "One visit, with the photos of its manifest not yet stored", Response: visitDetail{}, Auth: true, Load: loadRecordOf(pairing.CollVisits), Action: pairing.Read, Handler: s.getVisit},
		{Method: fiber.MethodPost, Path: "/v1/visits/:id/return", Tag: "visits", Summary: "Return a visit to its officer with a comment (administrators)", Request: returnVisitRequest{}, Response: recordView{}, Auth: true, Load: loadRecordOf(pairing.CollVisits), Action: pairing.Read, Handler: s.returnVisit},
		{Method: fiber.MethodGet, Path: "/v1/issues", Tag: "issues", Summary: "Issues with their derived state, overdue first: ?pairing=&org_unit=&from=&to=&status=&category=&officer=&overdue=true&q=&offset=&limit=", Response: issueList{}, Auth: true, Handler: s.listIssues},
		{Method: fiber.MethodGet, Path: "/v1/issues/:id", Tag: "issues", Summary: "One issue: record, derived state, event history", Response: issueDetail{}, Auth: true, Load: loadRecordOf(pairing.CollIssues), Action: pairing.Read, Handler: s.getIssue},
		{Method: fiber.MethodPost, Path: "/v1/issues/:id/events", Tag: "issues", Summary: "Append an event: dispatch (交办), accept, close, arbitrate…", Request: issueEventRequest{}, Response: issueEventAnswer{}, Auth: true, Load: loadRecordOf(pairing.CollIssues), Action: pairing.Read, Handler: s.appendIssueEvent},
		{Method: fiber.MethodGet, Path: "/v1/issues/:id/confirmation-code", Tag: "issues", Summary: "The contact's codes for an officer's phone to record their confirmation and rating (contacts)", Response: confirmationCodeAnswer{}, Auth: true, Load: loadRecordOf(pairing.CollIssues), Action: pairing.Read, Handler: s.issueCode},
		{Method: fiber.MethodGet, Path: "/v1/projects", Tag: "projects", Summary: "Practical projects: ?pairing=&org_unit=&from=&to=&status=&category=&q=&offset=&limit=", Response: projectList{}, Auth: true, Handler: s.listProjects},
		{Method: fiber.MethodPost, Path: "/v1/projects", Tag: "projects", Summary: "Create a practical project in a pairing (officers and administrators)", Request: createProjectRequest{}, Response: recordView{}, Auth: true, Handler: s.createProject},
		{Method: fiber.MethodPatch, Path: "/v1/projects/:id", Tag: "projects", Summary: "Change a project's plan or status (approve, defer, cancel, archive…)", Request: fieldsRequest{}, Response: recordView{}, Auth: true, Load: loadRecordOf(pairing.CollProjects), Action: pairing.Manage, Handler: s.patchProject},
		{Method: fiber.MethodGet, Path: "/v1/projects/:id", Tag: "projects", Summary: "One project with milestones and ratings", Response: projectDetail{}, Auth: true, Load: loadRecordOf(pairing.CollProjects), Action: pairing.Read, Handler: s.getProject},
		{Method: fiber.MethodPost, Path: "/v1/projects/:id/verify", Tag: "projects", Summary: "Verify (验收) a completed project the contact has accepted (administrators)", Request: verifyProjectRequest{}, Response: recordView{}, Auth: true, Load: loadRecordOf(pairing.CollProjects), Action: pairing.Read, Handler: s.verifyProject},
		{Method: fiber.MethodGet, Path: "/v1/projects/:id/confirmation-code", Tag: "projects", Summary: "The contact's codes to accept and rate a project on an officer's phone (contacts)", Response: confirmationCodeAnswer{}, Auth: true, Load: loadRecordOf(pairing.CollProjects), Action: pairing.Read, Handler: s.projectCode},
		{Method: fiber.MethodGet, Path: "/v1/reports/overview", Tag: "reports", Summary: "KPIs of a subtree for a period (?org_unit=&from=YYYY-MM&to=YYYY-MM), trend by month, units below", Response: overviewReport{}, Auth: true, Handler: s.overview},
		{Method: fiber.MethodGet, Path: "/v1/exports/pairings", Tag: "exports", Summary: "Pairings with their figures for the period, as .xlsx or CSV: ?format=xlsx|csv&org_unit=&status=&search=&from=&to= (administrators and viewers)", Auth: true, Handler: s.exportPairings},
		{Method: fiber.MethodGet, Path: "/v1/exports/visits", Tag: "exports", Summary: "Visits (走访记录), one row each, as .xlsx or CSV: the filters of GET /v1/visits and ?format=xlsx|csv (administrators and viewers)", Auth: true, Handler: s.exportVisits},
		{Method: fiber.MethodGet, Path: "/v1/exports/issues", Tag: "exports", Summary: "Issues (诉求) with their derived state, one row each, as .xlsx or CSV: the filters of GET /v1/issues and ?format=xlsx|csv (administrators and viewers)", Auth: true, Handler: s.exportIssues},
		{Method: fiber.MethodGet, Path: "/v1/exports/counterparties", Tag: "exports", Summary: "Counterparties (共建单位) you may see, one row each with their contacts and pairings, as .xlsx or CSV: the filters of GET /v1/counterparties (search=&kind=&org_unit=) and ?format=xlsx|csv; the columns of the import template (administrators and viewers)", Auth: true, Handler: s.exportCounterparties},
		{Method: fiber.MethodGet, Path: "/v1/exports/projects", Tag: "exports", Summary: "Practical projects (实事项目) with their milestones done, one row each, as .xlsx or CSV: ?format=xlsx|csv and the list filters (administrators and viewers)", Auth: true, Handler: s.exportProjects},
		{Method: fiber.MethodGet, Path: "/v1/reports/pairings", Tag: "reports", Summary: "Every pairing with its KPIs for the period: ?org_unit=&from=&to=&sort=&offset=&limit=", Response: pairingsReport{}, Auth: true, Handler: s.pairingsReport},
		// The records behind the console's figures that no list route selects
		// (server/console.go).
		{Method: fiber.MethodGet, Path: "/v1/reports/issues", Tag: "reports", Summary: "The issues behind an issue figure of the overview (?figure=raised|dispatched|signed_in_time|bounced|responded|responded_on_time|reopened|closed|confirmed_solved|closed_unconfirmed&org_unit=&from=&to=&offset=&limit=): counted by the month of their raise, first dispatch, first response or closing", Response: figureIssueList{}, Auth: true, Handler: s.figureIssues},
		{Method: fiber.MethodGet, Path: "/v1/reports/ratings", Tag: "reports", Summary: "The ratings behind the satisfaction rate (满意率): ?org_unit=&from=&to=&pairing=&offset=&limit=, newest first", Response: ratingList{}, Auth: true, Handler: s.figureRatings},

		// Photos: their own channel, after the records that cite them.
		{Method: fiber.MethodPost, Path: "/v1/photos/gc", Tag: "photos", Summary: "Collect photos no record cites (after the grace period) and abandoned uploads; ?dry_run=false to remove (default: report only; administrators of a root unit)", Response: gcReport{}, Auth: true, Timeout: 10 * time.Minute, Handler: s.collectPhotos},
		{Method: fiber.MethodPost, Path: "/v1/photos/:id/uploads", Tag: "photos", Summary: "Start or resume the upload of a photo a record you see cites: the parts still missing and where to send them", Request: uploadRequest{}, Response: uploadAnswer{}, Auth: true, Load: loadPhoto, Action: pairing.Read, Handler: s.beginUpload},
		{Method: fiber.MethodPut, Path: "/v1/photos/:id/parts/:n", Tag: "photos", Summary: "One part of a photo's bytes (?upload=), through the server", Auth: true, Load: loadPhoto, Action: pairing.Read, MaxBody: maxPartBytes, Handler: s.putPart},
		{Method: fiber.MethodPost, Path: "/v1/photos/:id/done", Tag: "photos", Summary: "All parts sent (?upload=): the server checks size, type and SHA-256, then the photo counts as stored", Response: photoDone{}, Auth: true, Load: loadPhoto, Action: pairing.Read, Handler: s.donePhoto},
		{Method: fiber.MethodPut, Path: "/v1/photos/:id", Tag: "photos", Summary: "A whole photo in one request (Content-Type its type), checked and stored at once", Response: photoDone{}, Auth: true, Load: loadPhoto, Action: pairing.Read, MaxBody: int(s.cfg.PhotoMaxBytes) + 1<<16, Handler: s.putPhoto},
		{Method: fiber.MethodGet, Path: "/v1/photos/:id", Tag: "photos", Summary: "A photo you may see (a record you see cites it): its bytes, ?thumb=1 its thumbnail (≤ 320 px), ?redirect=1 a 5-minute signed URL of the object store", Auth: true, Load: loadPhoto, Action: pairing.Read, Handler: s.getPhoto},

		// Sync: the device's changes in, the pairings' changes out.
		{Method: fiber.MethodPost, Path: "/v1/sync/push", Tag: "sync", Summary: "Push the device's changes in counter order; one answer per change (applied, merged, duplicate, rejected)", Request: schemaPush, Response: schemaPushAnswer, Auth: true, Handler: s.push},
		{Method: fiber.MethodPost, Path: "/v1/sync/pull", Tag: "sync", Summary: "Pull one page of the versions committed after the cursor, in every pairing you may see", Request: schemaPull, Response: schemaPullAnswer, Auth: true, Handler: s.pull},
		{Method: fiber.MethodGet, Path: "/v1/sync/scopes", Tag: "sync", Summary: "The pairings you sync, with their current sequence", Response: schemaScopes, Auth: true, Handler: s.scopes},
		{Method: fiber.MethodGet, Path: "/v1/audit", Tag: "audit", Summary: "The audit log of your subtree, newest first", Auth: true, Handler: s.listAudit},
		{Method: fiber.MethodGet, Path: "/v1/notifications", Tag: "notifications", Summary: "Notifications of your subtree with their delivery state and the provider's answer, newest first: ?state=pending|sent|failed&channel=&offset=&limit= (administrators)", Response: notificationList{}, Auth: true, Handler: s.listNotifications},
		{Method: fiber.MethodPost, Path: "/v1/notifications/:id/resend", Tag: "notifications", Summary: "Send a notification again (administrators of its subtree)", Response: notificationView{}, Auth: true, Load: loadNotification, Action: pairing.Read, Handler: s.resendNotification},

		// The field app's files, last: every route above wins. Hashed assets
		// are immutable, index.html and the service worker revalidate, the
		// app's own paths open index.html (SPA fallback); the rest is 404.
		{Method: fiber.MethodGet, Path: "/index.html", Tag: "web", Summary: "The field app's shell", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/sw.js", Tag: "web", Summary: "The field app's service worker (precaches the app for offline use)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/syncproto.wasm", Tag: "web", Summary: "syncproto compiled to WebAssembly: the app's merge", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/wasm_exec.js", Tag: "web", Summary: "Go's WebAssembly support script", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/manifest.webmanifest", Tag: "web", Summary: "The field app's web manifest (installable app)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/assets/*", Tag: "web", Summary: "The field app's hashed assets (cached for a year)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/icons/*", Tag: "web", Summary: "The field app's icons", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/login", Tag: "web", Summary: "The field app's sign-in screen (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/activate", Tag: "web", Summary: "The field app's activation screen, opened by an activation link or QR (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/account", Tag: "web", Summary: "The field app's account screen: change password, sign out, language (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/review", Tag: "web", Summary: "The field app's conflicts and rejected changes (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/pairings/*", Tag: "web", Summary: "The field app's pairing screens (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/visits/*", Tag: "web", Summary: "The field app's visit screens (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/issues/*", Tag: "web", Summary: "The field app's issue screens (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/projects/*", Tag: "web", Summary: "The field app's project screens (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/console", Tag: "web", Summary: "The administrators' console (SPA fallback to index.html)", Handler: s.webFiles},
		{Method: fiber.MethodGet, Path: "/console/*", Tag: "web", Summary: "The administrators' console screens (SPA fallback to index.html)", Handler: s.webFiles},
	}
}

// register adds the routes to the app, each with its deadline.
func (s *Server) register(routes []route) {
	for _, r := range routes {
		h := r.Handler
		if r.Load != nil {
			h = s.guard(r.Load, r.Action, h)
		}
		limit := s.cfg.BodyLimit
		if r.MaxBody > 0 {
			limit = r.MaxBody
			if s.largeBodies == nil {
				s.largeBodies = map[string]int{}
			}
			s.largeBodies[r.Method+" "+r.Path] = r.MaxBody
		}
		if r.SignIn {
			if s.signInRoutes == nil {
				s.signInRoutes = map[string]bool{}
			}
			s.signInRoutes[r.Method+" "+r.Path] = true
		}
		h = bodyLimit(limit, h)
		switch {
		case r.Timeout > 0:
			h = deadline(r.Timeout, h)
		case r.Timeout == 0:
			h = deadline(s.cfg.RequestTimeout, h)
		}
		if r.Auth {
			s.app.Add(r.Method, r.Path, s.authenticate, h)
		} else {
			s.app.Add(r.Method, r.Path, h)
		}
	}
}

// headerReceived lets the few routes whose bodies are larger than
// Config.BodyLimit (uploads: route.MaxBody) read them, and gives streamed
// exports a longer write deadline; every other request is refused with
// 413 from its headers alone, before its body is read.
func (s *Server) headerReceived(h *fasthttp.RequestHeader) fasthttp.RequestConfig {
	if n, ok := s.largeBodies[string(h.Method())+" "+string(h.RequestURI())]; ok {
		return fasthttp.RequestConfig{MaxRequestBodySize: n}
	}
	path := string(h.RequestURI())
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	if n, ok := s.largeBodies[string(h.Method())+" "+path]; ok {
		return fasthttp.RequestConfig{MaxRequestBodySize: n}
	}
	if strings.HasPrefix(path, "/v1/exports/") {
		return fasthttp.RequestConfig{WriteTimeout: exportWriteTimeout}
	}
	return fasthttp.RequestConfig{}
}

// maxPartBytes bounds one part sent through the server: the S3 minimum
// part size, the largest any photo store asks for, and some room.
const maxPartBytes = 5<<20 + 1<<16

// exportWriteTimeout bounds writing one export (a province's visits as
// .xlsx take tens of seconds to produce on a slow link).
const exportWriteTimeout = 15 * time.Minute

// bodyLimit refuses a body over limit bytes with 413, and decodes a gzip
// body within the same limit (inflate.go). It reads the raw body: Fiber's
// Ctx.Body would decode a compressed one first, with no bound.
func bodyLimit(limit int, h fiber.Handler) fiber.Handler {
	return func(c *fiber.Ctx) error {
		if len(c.Request().Body()) > limit {
			return errorf(http.StatusRequestEntityTooLarge, syncproto.CodeTooLarge, "the body is over this route's limit of %d bytes", limit)
		}
		if err := inflate(c, limit); err != nil {
			return err
		}
		return h(c)
	}
}
