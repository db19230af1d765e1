#include "usage.h"

void usage_print(FILE *out)
{
    fputs("usage: asyncrun [options] [script [args...]]\n"
          "Run a Lua 5.4 script as the main task of an event loop.\n"
          "\n"
          "  -e CODE             run CODE before the script (repeatable, in order)\n"
          "  -l NAME, -l G=NAME  require NAME into global NAME (or G)\n"
          "  -i                  interactive prompt after the script\n"
          "  -E                  ignore LUA_INIT, LUA_PATH and LUA_CPATH\n"
          "  -W                  turn warnings on\n"
          "  -v, --version       print the version and exit\n"
          "  -h, --help          print this help and exit\n"
          "  --check             only parse the script and the -e chunks\n"
          "  --trace[=FORMAT]    print task events: text, json, chrome or html\n"
          "  --trace-file=PATH   write the trace to PATH instead of stderr\n"
          "  --stats[=FORMAT]    print a summary at exit: text or json\n"
          "  --debug             warn about slow steps and unclosed resources\n"
          "  --slow=MS           slow-step threshold for --debug (default 100)\n"
          "  --timeout=SECONDS   cancel the run after SECONDS and exit 124\n"
          "  --strict            leftover tasks or resources make the status 1\n"
          "  --memlimit=SIZE     cap the Lua heap (K, M, G suffixes)\n"
          "  --fake-time         virtual clock: sleeps and timeouts run instantly\n"
          "  --seed=N            seeded schedule: ready tasks run in an order drawn from N\n"
          "  --explore[=K]       run K times (default 100) under seeds N.., show the first\n"
          "                      failure and the command that replays it\n"
          "  --                  stop handling options\n"
          "  -                   read the script from stdin\n"
          "\n"
          "Exit status: 0 success, 1 error, 2 usage, 3 deadlock, 124 timeout,\n"
          "130 SIGINT, 143 SIGTERM, 129 SIGHUP, N os.exit(N). See asyncrun(1).\n",
          out);
}

void usage_hint(void)
{
    fputs("Try 'asyncrun --help' for more information.\n", stderr);
}
