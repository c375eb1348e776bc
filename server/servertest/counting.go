package servertest

import (
	"context"
	"maps"
	"sync"
	"time"

	"github.com/pairsync/pairsync/storage"
)

// CountingStore counts the calls made to a storage.Store, by method name:
// the storage round trips of a request, measured in process (one call is
// one transaction on bolt; on MongoDB a call may make more than one round
// trip, as its adapter documents). Every method of storage.Store is counted
// (TestCountingStoreCountsEveryMethod checks that none is only passed
// through), and TouchDevices, the optional batch write of sightings, when
// the store has it. Safe for concurrent use.
//
//	c := servertest.Counting(db)
//	srv, _ := server.New(server.Config{}, server.Deps{Store: c, …})
//	c.Reset()
//	… one request …
//	n, byOp := c.Calls()
type CountingStore struct {
	// Store is the wrapped store. A method added to storage.Store and not
	// yet wrapped here passes through uncounted (the test above fails).
	storage.Store
	mu sync.Mutex
	n  map[string]int
}

// Counting wraps s. The result has TouchDevices when s has it.
func Counting(s storage.Store) *CountingStore {
	return &CountingStore{Store: s, n: map[string]int{}}
}

// WithToucher is c as the server should see it: with TouchDevices when the
// wrapped store has it (storage/bolt), so the server's sightings are
// written as without the wrapper.
func (c *CountingStore) WithToucher() storage.Store {
	if _, ok := c.Store.(deviceToucher); ok {
		return countingToucher{c}
	}
	return c
}

type deviceToucher interface {
	TouchDevices(ctx context.Context, seen map[string]time.Time) error
}

type countingToucher struct{ *CountingStore }

func (c countingToucher) TouchDevices(ctx context.Context, seen map[string]time.Time) error {
	c.count("TouchDevices")
	return c.Store.(deviceToucher).TouchDevices(ctx, seen)
}

func (c *CountingStore) count(op string) {
	c.mu.Lock()
	c.n[op]++
	c.mu.Unlock()
}

// Reset sets every count to zero.
func (c *CountingStore) Reset() {
	c.mu.Lock()
	c.n = map[string]int{}
	c.mu.Unlock()
}

// Calls returns the number of calls since the last Reset, and the calls
// by method.
func (c *CountingStore) Calls() (int, map[string]int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	total := 0
	for _, v := range c.n {
		total += v
	}
	return total, maps.Clone(c.n)
}

func (s *CountingStore) AcquireLease(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 time.Duration) (bool, error) {
	s.count("AcquireLease")
	return s.Store.AcquireLease(ctx, a1, a2, a3, a4)
}

func (s *CountingStore) AppendAudit(ctx context.Context, a1 ...storage.AuditEvent) error {
	s.count("AppendAudit")
	return s.Store.AppendAudit(ctx, a1...)
}

func (s *CountingStore) AuditLog(ctx context.Context, a1 storage.AuditQuery) ([]storage.AuditEvent, bool, error) {
	s.count("AuditLog")
	return s.Store.AuditLog(ctx, a1)
}

func (s *CountingStore) BindSessionDevice(ctx context.Context, a1 string, a2 string) error {
	s.count("BindSessionDevice")
	return s.Store.BindSessionDevice(ctx, a1, a2)
}

func (s *CountingStore) Changes(ctx context.Context, a1 string, a2 uint64, a3 storage.PageLimit) (storage.Page, error) {
	s.count("Changes")
	return s.Store.Changes(ctx, a1, a2, a3)
}

func (s *CountingStore) ClaimNotification(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 time.Duration) (storage.Notification, error) {
	s.count("ClaimNotification")
	return s.Store.ClaimNotification(ctx, a1, a2, a3, a4)
}

func (s *CountingStore) ClaimNotifications(ctx context.Context, a1 string, a2 time.Time, a3 time.Duration, a4 int) ([]storage.Notification, error) {
	s.count("ClaimNotifications")
	return s.Store.ClaimNotifications(ctx, a1, a2, a3, a4)
}

func (s *CountingStore) Close() error {
	s.count("Close")
	return s.Store.Close()
}

func (s *CountingStore) Commit(ctx context.Context, a1 storage.Batch) (storage.Committed, error) {
	s.count("Commit")
	return s.Store.Commit(ctx, a1)
}

func (s *CountingStore) ConfirmedHead(ctx context.Context, a1 string) (uint64, error) {
	s.count("ConfirmedHead")
	return s.Store.ConfirmedHead(ctx, a1)
}

func (s *CountingStore) ConsumeActivation(ctx context.Context, a1 string, a2 time.Time) (storage.Activation, error) {
	s.count("ConsumeActivation")
	return s.Store.ConsumeActivation(ctx, a1, a2)
}

func (s *CountingStore) CountUsers(ctx context.Context) (int, error) {
	s.count("CountUsers")
	return s.Store.CountUsers(ctx)
}

func (s *CountingStore) CreateActivation(ctx context.Context, a1 storage.Activation) error {
	s.count("CreateActivation")
	return s.Store.CreateActivation(ctx, a1)
}

func (s *CountingStore) CreateDevice(ctx context.Context, a1 storage.Device) (storage.Device, error) {
	s.count("CreateDevice")
	return s.Store.CreateDevice(ctx, a1)
}

func (s *CountingStore) CreateOrgUnit(ctx context.Context, a1 storage.OrgUnit) (storage.OrgUnit, error) {
	s.count("CreateOrgUnit")
	return s.Store.CreateOrgUnit(ctx, a1)
}

func (s *CountingStore) CreateSession(ctx context.Context, a1 storage.Session) error {
	s.count("CreateSession")
	return s.Store.CreateSession(ctx, a1)
}

func (s *CountingStore) CreateUser(ctx context.Context, a1 storage.User) (storage.User, error) {
	s.count("CreateUser")
	return s.Store.CreateUser(ctx, a1)
}

func (s *CountingStore) DeferNotification(ctx context.Context, a1 string, a2 string, a3 time.Time, a4 string) error {
	s.count("DeferNotification")
	return s.Store.DeferNotification(ctx, a1, a2, a3, a4)
}

func (s *CountingStore) Device(ctx context.Context, a1 string) (storage.Device, error) {
	s.count("Device")
	return s.Store.Device(ctx, a1)
}

func (s *CountingStore) DevicesOf(ctx context.Context, a1 string) ([]storage.Device, error) {
	s.count("DevicesOf")
	return s.Store.DevicesOf(ctx, a1)
}

func (s *CountingStore) FinishNotification(ctx context.Context, a1 string, a2 string, a3 storage.NotificationOutcome) error {
	s.count("FinishNotification")
	return s.Store.FinishNotification(ctx, a1, a2, a3)
}

func (s *CountingStore) Get(ctx context.Context, a1 storage.Key) (storage.Record, error) {
	s.count("Get")
	return s.Store.Get(ctx, a1)
}

func (s *CountingStore) GetMany(ctx context.Context, a1 []storage.Key) (map[storage.Key]storage.Record, error) {
	s.count("GetMany")
	return s.Store.GetMany(ctx, a1)
}

func (s *CountingStore) Head(ctx context.Context, a1 string) (uint64, error) {
	s.count("Head")
	return s.Store.Head(ctx, a1)
}

func (s *CountingStore) HeadsOf(ctx context.Context, a1 []string) ([]storage.PairingHead, error) {
	s.count("HeadsOf")
	return s.Store.HeadsOf(ctx, a1)
}

func (s *CountingStore) HeadsSince(ctx context.Context, a1 uint64, a2 int) (storage.HeadsPage, error) {
	s.count("HeadsSince")
	return s.Store.HeadsSince(ctx, a1, a2)
}

func (s *CountingStore) Horizon(ctx context.Context, a1 string) (uint64, error) {
	s.count("Horizon")
	return s.Store.Horizon(ctx, a1)
}

func (s *CountingStore) IdleDevices(ctx context.Context, a1 []string, a2 time.Time) ([]storage.IdleDevice, error) {
	s.count("IdleDevices")
	return s.Store.IdleDevices(ctx, a1, a2)
}

func (s *CountingStore) ListNotifications(ctx context.Context, a1 storage.NotificationQuery) ([]storage.Notification, bool, error) {
	s.count("ListNotifications")
	return s.Store.ListNotifications(ctx, a1)
}

func (s *CountingStore) ListUsers(ctx context.Context, a1 storage.UserQuery) ([]storage.User, bool, error) {
	s.count("ListUsers")
	return s.Store.ListUsers(ctx, a1)
}

func (s *CountingStore) LiveActivation(ctx context.Context, a1 string, a2 time.Time) (storage.Activation, error) {
	s.count("LiveActivation")
	return s.Store.LiveActivation(ctx, a1, a2)
}

func (s *CountingStore) Notification(ctx context.Context, a1 string) (storage.Notification, error) {
	s.count("Notification")
	return s.Store.Notification(ctx, a1)
}

func (s *CountingStore) OrgUnit(ctx context.Context, a1 string) (storage.OrgUnit, error) {
	s.count("OrgUnit")
	return s.Store.OrgUnit(ctx, a1)
}

func (s *CountingStore) OrgUnits(ctx context.Context, a1 string) ([]storage.OrgUnit, error) {
	s.count("OrgUnits")
	return s.Store.OrgUnits(ctx, a1)
}

func (s *CountingStore) OrgUnitsVersion(ctx context.Context) (uint64, error) {
	s.count("OrgUnitsVersion")
	return s.Store.OrgUnitsVersion(ctx)
}

func (s *CountingStore) Ping(ctx context.Context) error {
	s.count("Ping")
	return s.Store.Ping(ctx)
}

func (s *CountingStore) PruneAttempts(ctx context.Context, a1 time.Time) (int, error) {
	s.count("PruneAttempts")
	return s.Store.PruneAttempts(ctx, a1)
}

func (s *CountingStore) PruneReceipts(ctx context.Context, a1 uint64) (int, error) {
	s.count("PruneReceipts")
	return s.Store.PruneReceipts(ctx, a1)
}

func (s *CountingStore) PruneSigningKeys(ctx context.Context, a1 time.Time) error {
	s.count("PruneSigningKeys")
	return s.Store.PruneSigningKeys(ctx, a1)
}

func (s *CountingStore) PrunedBelow(ctx context.Context, a1 string) (uint64, error) {
	s.count("PrunedBelow")
	return s.Store.PrunedBelow(ctx, a1)
}

func (s *CountingStore) Purge(ctx context.Context, a1 string, a2 []storage.Record) error {
	s.count("Purge")
	return s.Store.Purge(ctx, a1, a2)
}

func (s *CountingStore) ReadNotification(ctx context.Context, a1 string, a2 string, a3 time.Time) (storage.Notification, error) {
	s.count("ReadNotification")
	return s.Store.ReadNotification(ctx, a1, a2, a3)
}

func (s *CountingStore) Receipt(ctx context.Context, a1 string, a2 uint64) ([]uint8, error) {
	s.count("Receipt")
	return s.Store.Receipt(ctx, a1, a2)
}

func (s *CountingStore) ReceiptsOf(ctx context.Context, a1 string, a2 []uint64) (map[uint64][]uint8, error) {
	s.count("ReceiptsOf")
	return s.Store.ReceiptsOf(ctx, a1, a2)
}

func (s *CountingStore) RefundAttempt(ctx context.Context, a1 time.Time, a2 time.Duration, a3 ...storage.AttemptLimit) error {
	s.count("RefundAttempt")
	return s.Store.RefundAttempt(ctx, a1, a2, a3...)
}

func (s *CountingStore) ReleaseLease(ctx context.Context, a1 string, a2 string) error {
	s.count("ReleaseLease")
	return s.Store.ReleaseLease(ctx, a1, a2)
}

func (s *CountingStore) ReleaseNotifications(ctx context.Context, a1 string) (int, error) {
	s.count("ReleaseNotifications")
	return s.Store.ReleaseNotifications(ctx, a1)
}

func (s *CountingStore) ResendNotification(ctx context.Context, a1 string, a2 time.Time) (storage.Notification, error) {
	s.count("ResendNotification")
	return s.Store.ResendNotification(ctx, a1, a2)
}

func (s *CountingStore) ReserveAttempt(ctx context.Context, a1 time.Time, a2 time.Duration, a3 ...storage.AttemptLimit) (time.Duration, bool, error) {
	s.count("ReserveAttempt")
	return s.Store.ReserveAttempt(ctx, a1, a2, a3...)
}

func (s *CountingStore) RevokeSessions(ctx context.Context, a1 storage.SessionFilter, a2 time.Time) (int, error) {
	s.count("RevokeSessions")
	return s.Store.RevokeSessions(ctx, a1, a2)
}

func (s *CountingStore) RotateSession(ctx context.Context, a1 string, a2 time.Time, a3 storage.Session) (storage.Session, error) {
	s.count("RotateSession")
	return s.Store.RotateSession(ctx, a1, a2, a3)
}

func (s *CountingStore) RotateSigningKey(ctx context.Context, a1 storage.SigningKey, a2 bool) error {
	s.count("RotateSigningKey")
	return s.Store.RotateSigningKey(ctx, a1, a2)
}

func (s *CountingStore) Secret(ctx context.Context, a1 string, a2 []uint8) ([]uint8, error) {
	s.count("Secret")
	return s.Store.Secret(ctx, a1, a2)
}

func (s *CountingStore) Session(ctx context.Context, a1 string) (storage.Session, error) {
	s.count("Session")
	return s.Store.Session(ctx, a1)
}

func (s *CountingStore) SessionLive(ctx context.Context, a1 string, a2 time.Time) (bool, error) {
	s.count("SessionLive")
	return s.Store.SessionLive(ctx, a1, a2)
}

func (s *CountingStore) SigningKeys(ctx context.Context) ([]storage.SigningKey, error) {
	s.count("SigningKeys")
	return s.Store.SigningKeys(ctx)
}

func (s *CountingStore) UpdateDevice(ctx context.Context, a1 storage.Device) (storage.Device, error) {
	s.count("UpdateDevice")
	return s.Store.UpdateDevice(ctx, a1)
}

func (s *CountingStore) UpdateOrgUnit(ctx context.Context, a1 storage.OrgUnit) (storage.OrgUnit, error) {
	s.count("UpdateOrgUnit")
	return s.Store.UpdateOrgUnit(ctx, a1)
}

func (s *CountingStore) UpdateUser(ctx context.Context, a1 storage.User) (storage.User, error) {
	s.count("UpdateUser")
	return s.Store.UpdateUser(ctx, a1)
}

func (s *CountingStore) User(ctx context.Context, a1 string) (storage.User, error) {
	s.count("User")
	return s.Store.User(ctx, a1)
}

func (s *CountingStore) UserByLogin(ctx context.Context, a1 string) (storage.User, error) {
	s.count("UserByLogin")
	return s.Store.UserByLogin(ctx, a1)
}

func (s *CountingStore) UsersByPhone(ctx context.Context, a1 string) ([]storage.User, error) {
	s.count("UsersByPhone")
	return s.Store.UsersByPhone(ctx, a1)
}
