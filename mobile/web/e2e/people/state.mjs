// The people's journeys (e2e/people/*.test.mjs, run in the order of their
// names by TestPeopleJourneys in people_e2e_test.go) start from an empty
// server. What the people chose on the first day (user names, passwords,
// names, the pairing's name) is kept in a JSON state file so the later
// journeys can sign in as them through the screens:
//
//   { "people": { "admin": P, "officerA": P, "officerB": P, "contact": P },
//     "orgUnits": { "root": name, "branch": name },
//     "counterparty": { "name": … }, "pairing": { "name": … }, … }
//   P = { "username", "password", "name", "phone"? }
//
// 10-firstday writes it (saveState); every journey may add to it.
import { readFileSync, writeFileSync, existsSync } from 'node:fs'

export const STATE = process.env.PAIRSYNC_STATE
// The first administrator's password as pairsyncd printed it on first start.
export const PRINTED_PASSWORD = process.env.PAIRSYNC_PRINTED_PASSWORD

export function loadState() {
  if (!STATE) throw new Error('PAIRSYNC_STATE is not set: run these through go test ./mobile/web/ -run TestPeopleJourneys')
  return existsSync(STATE) ? JSON.parse(readFileSync(STATE, 'utf8')) : {}
}

// saveState merges into the state file what a journey adds.
export function saveState(patch) {
  const st = { ...loadState(), ...patch }
  writeFileSync(STATE, JSON.stringify(st, null, 2))
  return st
}
