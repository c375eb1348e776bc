// Runs once, when the mongo container initialises an empty data volume
// (/docker-entrypoint-initdb.d): creates the user pairsyncd signs in with,
// allowed to read and write its own database only (readWrite includes
// creating its indexes and running transactions; it cannot touch other
// databases, users or the replica-set configuration). The root user stays
// for administration (backups, the replica-set health check).
//
// Changing MONGO_APP_PASSWORD in .env later does not change this user: use
//   db.getSiblingDB('admin').changeUserPassword('<user>', '<new password>')
const user = process.env.MONGO_APP_USERNAME;
const pwd = process.env.MONGO_APP_PASSWORD;
const database = process.env.MONGO_APP_DATABASE;
if (!user || !pwd || !database) {
  throw new Error('MONGO_APP_USERNAME, MONGO_APP_PASSWORD and MONGO_APP_DATABASE must be set');
}
db.getSiblingDB('admin').createUser({
  user: user,
  pwd: pwd,
  roles: [{ role: 'readWrite', db: database }],
});
