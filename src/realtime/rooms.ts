/**
 * Room names of users and tenants. Every connection with an identity is in these rooms, so an app
 * can also use them directly (`io.to(userRoom('42')).emit(...)`).
 */
export function userRoom(userId: string): string {
  return `user:${userId}`;
}

export function tenantRoom(tenantId: string): string {
  return `tenant:${tenantId}`;
}
