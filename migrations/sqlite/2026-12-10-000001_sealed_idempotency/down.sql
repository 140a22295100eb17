-- Nothing to restore: the plain-text answers removed were not replayable anyway.
SELECT 1;
