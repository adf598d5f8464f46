-- Whether a row's trace is in the sample of one trace in $sample, by trace-id hash (every
-- trace when $sample is 1): the same traces every time, and whole traces, so that shares
-- and rates hold on the sample. The loader puts it where a query names it in braces.
($sample = 1 OR hash(trace_id) % $sample::UBIGINT = 0)
