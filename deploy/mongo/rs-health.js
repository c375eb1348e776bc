// Health check of the one-node replica set in docker-compose.yml, run by
// mongosh as the root user every few seconds:
//
//   mongosh --quiet --norc -u … -p … --authenticationDatabase admin \
//     'mongodb://127.0.0.1:27017/admin?directConnection=true' /scripts/rs-health.js
//
// On the first run the set is not initiated yet: initiate it, with the member
// named by its compose service name (pairsyncd reaches it as mongo:27017).
// Then report healthy (exit 0) only when rs.status() is ok and a primary is
// elected, so services that depend on mongo start against a writable set
// (pairsyncd's per-pairing counters need transactions, hence a replica set).
const set = process.env.MONGO_REPLICA_SET || 'rs0';
const host = process.env.MONGO_REPLICA_HOST || 'mongo:27017';
try {
  rs.status();
} catch (e) {
  if (e.codeName !== 'NotYetInitialized') {
    throw e;
  }
  rs.initiate({ _id: set, members: [{ _id: 0, host: host }] });
}
const status = rs.status();
if (status.ok !== 1 || !status.members.some((m) => m.stateStr === 'PRIMARY')) {
  quit(1);
}
