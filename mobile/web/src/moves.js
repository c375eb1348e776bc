// The project moves a person may make (实事项目 status), by the server's
// table (GET /v1/schema project_moves: from → to → roles), for the screens
// that offer or refuse a status: a kept conflict's values (Review.vue) and a
// refused change's valid choices. No copy of the table lives here.

// moveRefusal says why the rules refuse setting a project's status from
// current to value for role: null when allowed (or unchanged), else the
// refusal as the server would give it ({code, reason, args}), for
// errorText to put into words.
export function moveRefusal(schema, role, current, value) {
  if (JSON.stringify(current) === JSON.stringify(value)) return null
  const moves = schema?.project_moves || {}
  const roles = (moves[current || ''] || {})[value]
  if (roles && roles.includes(role)) return null
  return { code: 'validation_failed', reason: roles ? 'project_move_role' : 'project_move', args: { from: current || '', to: value, role: role || '' } }
}

// movesFrom lists the statuses role may move a project to from status from.
export function movesFrom(schema, role, from) {
  const moves = (schema?.project_moves || {})[from || ''] || {}
  return Object.entries(moves).filter(([, roles]) => roles.includes(role)).map(([to]) => to)
}
