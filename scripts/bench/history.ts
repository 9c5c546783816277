import type { Client } from '@temporalio/client';
import proto from '@temporalio/proto';
import { mean } from './stats.js';

const { temporal } = proto;
const T = temporal.api.enums.v1.EventType;

type Event = proto.temporal.api.history.v1.IHistoryEvent;

const num = (v: unknown): number => (typeof v === 'number' ? v : v === null || v === undefined ? 0 : Number(String(v)));
const ms = (e: Event | undefined): number => (e?.eventTime ? num(e.eventTime.seconds) * 1000 + num(e.eventTime.nanos) / 1e6 : Number.NaN);

/** What the Temporal server saw of a set of workflows, averaged per workflow or per task. */
export interface HistorySummary {
  eventsPerFlow: number;
  workflowTasksPerFlow: number;
  activitiesPerFlow: number;
  searchAttributeUpsertsPerFlow: number;
  /** workflow task: scheduled → started (waiting for a worker poll), started → completed (worker busy + reply) */
  wftQueueMs: number;
  wftRunMs: number;
  /** per activity type: scheduled → started, started → completed */
  activities: Map<string, { count: number; queueMs: number; runMs: number }>;
  /** update accepted → update completed */
  updateMs: number;
}

export async function summarizeHistories(client: Client, workflowIds: string[]): Promise<HistorySummary> {
  const histories = await Promise.all(workflowIds.map((id) => client.workflow.getHandle(id).fetchHistory()));
  let events = 0;
  let wfts = 0;
  let upserts = 0;
  let activityCount = 0;
  const wftQueue: number[] = [];
  const wftRun: number[] = [];
  const updates: number[] = [];
  const perActivity = new Map<string, { queue: number[]; run: number[] }>();
  for (const history of histories) {
    const list = history.events ?? [];
    events += list.length;
    const byId = new Map<number, Event>();
    const acceptedUpdates = new Map<string, number>();
    for (const e of list) {
      byId.set(num(e.eventId), e);
      switch (e.eventType) {
        case T.EVENT_TYPE_WORKFLOW_TASK_COMPLETED: {
          const a = e.workflowTaskCompletedEventAttributes!;
          const started = byId.get(num(a.startedEventId));
          const scheduled = byId.get(num(a.scheduledEventId));
          wfts++;
          wftQueue.push(ms(started) - ms(scheduled));
          wftRun.push(ms(e) - ms(started));
          break;
        }
        case T.EVENT_TYPE_ACTIVITY_TASK_COMPLETED: {
          const a = e.activityTaskCompletedEventAttributes!;
          const scheduled = byId.get(num(a.scheduledEventId));
          const started = byId.get(num(a.startedEventId));
          const name = scheduled?.activityTaskScheduledEventAttributes?.activityType?.name ?? '?';
          const entry = perActivity.get(name) ?? { queue: [], run: [] };
          entry.queue.push(ms(started) - ms(scheduled));
          entry.run.push(ms(e) - ms(started));
          perActivity.set(name, entry);
          activityCount++;
          break;
        }
        case T.EVENT_TYPE_UPSERT_WORKFLOW_SEARCH_ATTRIBUTES:
          upserts++;
          break;
        case T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED: {
          const id = e.workflowExecutionUpdateAcceptedEventAttributes?.acceptedRequest?.meta?.updateId;
          if (id) acceptedUpdates.set(id, ms(e));
          break;
        }
        case T.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_COMPLETED: {
          const id = e.workflowExecutionUpdateCompletedEventAttributes?.meta?.updateId;
          const accepted = id ? acceptedUpdates.get(id) : undefined;
          if (accepted !== undefined) updates.push(ms(e) - accepted);
          break;
        }
        default:
      }
    }
  }
  const n = Math.max(1, histories.length);
  return {
    eventsPerFlow: events / n,
    workflowTasksPerFlow: wfts / n,
    activitiesPerFlow: activityCount / n,
    searchAttributeUpsertsPerFlow: upserts / n,
    wftQueueMs: mean(wftQueue),
    wftRunMs: mean(wftRun),
    activities: new Map([...perActivity].map(([name, v]) => [name, { count: v.run.length, queueMs: mean(v.queue), runMs: mean(v.run) }])),
    updateMs: mean(updates),
  };
}
