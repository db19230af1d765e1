#!/bin/sh
# W7's input: N (default 1,000,000) deterministic log lines of about 56 bytes.
exec awk -v n="${1:-1000000}" 'BEGIN {
    split("INFO WARN DEBUG ERROR", lv, " ")
    for (i = 1; i <= n; i++)
        printf "00:%02d:%02d %-5s req=%07d path=/api/v1/items took=%dms\n",
            int(i / 60) % 60, i % 60, lv[i % 4 + 1], i, (i * 7919) % 1000
}'
