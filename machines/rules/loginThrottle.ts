/**
 * How repeated login failures slow down and then lock (seed 000: "adeguamento del livello di
 * complessità e robustezza del sistema di accesso"). Pure: the store counts, this decides.
 */
export interface ThrottlePolicy {
  lockAfter: number;
  lockForMs: number;
  delayBaseMs: number;
  delayMaxMs: number;
}

export interface AfterFailure {
  /** how long to hold the answer of this failure: 0 for the first, then doubling */
  delayMs: number;
  /** set when this failure locks the account */
  lockForMs: number | null;
}

export function afterFailure(failures: number, policy: ThrottlePolicy): AfterFailure {
  if (failures >= policy.lockAfter) return { delayMs: 0, lockForMs: policy.lockForMs };
  const delayMs = failures < 2 ? 0 : Math.min(policy.delayBaseMs * 2 ** (failures - 2), policy.delayMaxMs);
  return { delayMs, lockForMs: null };
}
