-- The segment queue barrier (20261123001000) also guards rule changes: ComputeRFM queues
-- customers only while some segment's rule uses rfm, so a segment re-ruled to use rfm must
-- wait, as a new one does, for transactions that decided otherwise.
CREATE OR REPLACE TRIGGER segments_queue_barrier AFTER INSERT OR UPDATE OF rule ON segments
  FOR EACH STATEMENT EXECUTE FUNCTION cairn_segment_queue_barrier();
