package dev.sluice.proxy;

import dev.sluice.l7.route.RouteTable;

import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Where the proxy reads its configuration, once per request: the routing model of {@code sluice-l7}. The agent
 * feeds it (today by compiling the cluster view; later over xDS): a new table takes effect on the next request,
 * requests already forwarded keep their backend.
 */
public interface RouteTableSource {
    RouteTable current();

    /** A source the caller sets. */
    static Updatable updatable(RouteTable initial) {
        return new Updatable(initial);
    }

    final class Updatable implements RouteTableSource {
        private final AtomicReference<RouteTable> table;

        private Updatable(RouteTable initial) {
            table = new AtomicReference<>(Objects.requireNonNull(initial));
        }

        @Override
        public RouteTable current() {
            return table.get();
        }

        public void set(RouteTable next) {
            table.set(Objects.requireNonNull(next));
        }
    }
}
