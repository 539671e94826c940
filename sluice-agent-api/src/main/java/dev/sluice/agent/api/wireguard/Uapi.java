package dev.sluice.agent.api.wireguard;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;

/**
 * A client of WireGuard's cross-platform userspace API (https://www.wireguard.com/xplatform/): a unix socket
 * ({@code /var/run/wireguard/NAME.sock}) taking {@code get=1} or {@code set=1} followed by {@code key=value}
 * lines and an empty line, and answering with key=value lines ending in {@code errno=N} and an empty line.
 * One connection per operation, as {@code wg} does.
 */
public final class Uapi {
    private final Path socket;

    public Uapi(Path socket) {
        this.socket = socket;
    }

    public Path socket() {
        return socket;
    }

    /** The device as it is now. @throws IOException when the socket does not answer or reports an error */
    public WgDeviceState get() throws IOException {
        return WgDeviceState.parse(exchange("get=1\n\n"));
    }

    /**
     * Applies {@code lines} (after {@code set=1}) in one transaction.
     *
     * @throws IOException when the socket does not answer, or the device refused them ({@code errno} not 0)
     */
    public void set(List<String> lines) throws IOException {
        if (lines.isEmpty()) {
            return;
        }
        StringBuilder request = new StringBuilder("set=1\n");
        for (String line : lines) {
            if (line.isEmpty() || line.indexOf('\n') >= 0 || line.indexOf('=') < 0) {
                throw new IllegalArgumentException("not a UAPI key=value line: '" + line + "'");
            }
            request.append(line).append('\n');
        }
        String answer = exchange(request.append('\n').toString());
        int errno = WgDeviceState.errno(answer);
        if (errno != 0) {
            throw new IOException("WireGuard device at " + socket + " refused the configuration (errno " + errno + ")");
        }
    }

    /** Whether a daemon answers on the socket now. */
    public boolean answers() {
        try {
            get();
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private String exchange(String request) throws IOException {
        try (SocketChannel channel = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            channel.write(ByteBuffer.wrap(request.getBytes(StandardCharsets.US_ASCII)));
            ByteArrayOutputStream answer = new ByteArrayOutputStream();
            ByteBuffer buffer = ByteBuffer.allocate(8192);
            // The answer ends with an empty line (two newlines); the daemon keeps the connection open for more.
            while (!endsWithBlankLine(answer)) {
                buffer.clear();
                int n = channel.read(buffer);
                if (n < 0) {
                    break;
                }
                answer.write(buffer.array(), 0, n);
            }
            return answer.toString(StandardCharsets.US_ASCII);
        }
    }

    private static boolean endsWithBlankLine(ByteArrayOutputStream out) {
        byte[] b = out.toByteArray();
        return b.length >= 2 && b[b.length - 1] == '\n' && b[b.length - 2] == '\n';
    }
}
