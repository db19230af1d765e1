# Sourced by the instruction-count scripts (callgrind.sh, trace_cost.sh): sets the array
# NORAND to a command prefix that makes two runs of asyncrun execute the same instructions.
# Lua seeds its string hashes with time(NULL) and addresses, which moves a count by up to
# ~0.7 % from one second to the next; so runs go with ASLR off (setarch -R) and with time()
# pinned to 0 by a 1-line LD_PRELOAD shim compiled into $1 (a scratch directory).
pinned_setup() {
  local dir=$1
  NORAND=()
  if setarch "$(uname -m)" -R true 2>/dev/null; then NORAND=(setarch "$(uname -m)" -R); fi
  printf '#include <time.h>\ntime_t time(time_t *t) { if (t) *t = 0; return 0; }\n' > "$dir/fixtime.c"
  if ${CC:-cc} -shared -fPIC -O2 -o "$dir/fixtime.so" "$dir/fixtime.c" 2>/dev/null; then
    NORAND=(env LD_PRELOAD="$dir/fixtime.so" "${NORAND[@]}")
  else
    echo "bench: no C compiler: time() not pinned, counts vary by up to ~0.7 %" >&2
  fi
}
