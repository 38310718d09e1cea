/** Show Timeline: the timeline webview of an analysed dump. */
import type { TimelineData } from '../model/timeline';
import { resultOf, showFailure, sourceOf, type Services } from './services';

export async function showTimeline(s: Services, arg?: unknown): Promise<TimelineData | undefined> {
  const source = await sourceOf(s, arg, 'Show Timeline');
  if (!source) return undefined;
  try {
    s.lastTimeline = s.timelines.show(source, await resultOf(s, source));
    return s.lastTimeline;
  } catch (e) {
    showFailure(s, 'Timeline', e);
    return undefined;
  }
}
