-- Ingest queues the customers it touches in segment_dirty_customers only while a segment
-- exists (the queue's only consumer is the incremental segment drain; measured, queueing and
-- draining for no one cost ~13% of `cairn bench ingest` throughput). Every transaction that
-- may queue customers (identity's Resolve and manual merges) first holds this advisory lock
-- shared, and creating segments takes it exclusively until commit. So an ingest transaction
-- that found no segment and queued nothing commits before the new segment is visible to its
-- first computation (which runs after the segment commits), and one that starts later waits
-- for the segment and then sees it. The key is identity.segmentQueueLock.
CREATE FUNCTION cairn_segment_queue_barrier() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  PERFORM pg_advisory_xact_lock(7395118264530126722);
  RETURN NULL;
END
$$;

CREATE TRIGGER segments_queue_barrier AFTER INSERT ON segments
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_segment_queue_barrier();
