// Package notify tells people when something waits for them:
// which changes cause a notification, to whom, with what words and link
// (Plan, the one place of those rules, called by every commit path), and
// the sender that drains the durable outbox (Sender) over its channels
// (Webhook first).
//
// A notification is written into the outbox by storage.Records.Commit in the
// same transaction as the change that causes it, with an id derived from
// the cause, the recipient and the channel, so a retried push or two server
// processes never write it twice:
//
//	p := notify.Planner{Dir: dir, Users: store, Records: store, PublicURL: url, Channels: []string{notify.ChannelWebhook}}
//	ns, err := p.Plan(ctx, batch, now)
//	batch.Notifications = append(batch.Notifications, ns...)
//	store.Commit(ctx, batch)
//
// A Sender claims due notifications under a lease (one claimer each, so
// several server processes share the work and never send one twice while a
// lease runs), delivers them, and records sent, retry-at (exponential
// backoff with jitter for up to MaxAge, 24 h) or failed, with the
// provider's answer.
package notify
