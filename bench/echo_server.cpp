// The Echo service every client of the bus benchmarks talks to: one sd-bus process per bus that
// owns org.kbus.Bench and answers org.kbus.Bench1.Echo(s) -> s on /org/kbus/Bench. Written with
// sd-bus, not kbus, so that no client measures against a server of its own making.
//
//   kbus_bench_echo_server ADDRESS     prints "ready" once the name is owned, then serves until
//                                      the bus goes away or the parent dies.
#include <systemd/sd-bus.h>
#include <sys/prctl.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>

namespace {

int echo(sd_bus_message* call, void*, sd_bus_error*) {
  const char* s = nullptr;
  const int r = sd_bus_message_read(call, "s", &s);
  if (r < 0) return r;
  return sd_bus_reply_method_return(call, "s", s);
}

const sd_bus_vtable echo_vtable[] = {
    SD_BUS_VTABLE_START(0),
    SD_BUS_METHOD("Echo", "s", "s", echo, SD_BUS_VTABLE_UNPRIVILEGED),
    SD_BUS_VTABLE_END,
};

int fail(const char* what, int r) {
  std::fprintf(stderr, "kbus_bench_echo_server: %s: %s\n", what, std::strerror(-r));
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: kbus_bench_echo_server ADDRESS\n");
    return 2;
  }
  // The benchmark that started us may die without stopping us.
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  sd_bus* bus = nullptr;
  int r = sd_bus_new(&bus);
  if (r < 0) return fail("sd_bus_new", r);
  if ((r = sd_bus_set_address(bus, argv[1])) < 0) return fail("set_address", r);
  if ((r = sd_bus_set_bus_client(bus, 1)) < 0) return fail("set_bus_client", r);
  if ((r = sd_bus_start(bus)) < 0) return fail("start", r);
  if ((r = sd_bus_add_object_vtable(bus, nullptr, "/org/kbus/Bench", "org.kbus.Bench1", echo_vtable, nullptr)) < 0)
    return fail("add_object_vtable", r);
  if ((r = sd_bus_request_name(bus, "org.kbus.Bench", 0)) < 0) return fail("request_name", r);
  std::printf("ready\n");
  std::fflush(stdout);
  for (;;) {
    r = sd_bus_process(bus, nullptr);
    if (r < 0) break;  // the bus went away: the benchmark is over
    if (r > 0) continue;
    if ((r = sd_bus_wait(bus, UINT64_MAX)) < 0 && r != -EINTR) break;
  }
  sd_bus_flush_close_unref(bus);
  return 0;
}
