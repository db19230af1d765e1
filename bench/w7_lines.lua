-- W7 line filter: read standard input line by line, write each line upper-cased
-- (bench/run.sh pipes the lines in with cat, the output goes to /dev/null).
for line in async.stdin:lines() do async.stdout:write(line:upper(), "\n") end
