/**
 * When a journal's writes are forced to disk.
 *
 * `never`: handed to the kernel before the client hears STORED; the OS decides when it reaches
 * the disk. `always`: fsync before STORED, one fsync per batch (group commit). `interval`: handed
 * to the kernel before STORED, fsync at most `ms` later.
 */
export type SyncPolicy =
  | { readonly kind: "never" }
  | { readonly kind: "always" }
  | { readonly kind: "interval"; readonly ms: number };

export function describeSyncPolicy(policy: SyncPolicy): string {
  return policy.kind === "interval" ? `${policy.ms}ms` : policy.kind;
}
