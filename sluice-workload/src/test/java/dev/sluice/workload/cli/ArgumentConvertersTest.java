package dev.sluice.workload.cli;

import org.junit.jupiter.api.Test;
import picocli.CommandLine;

import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class ArgumentConvertersTest {
    @Test
    void hostPortTakesNamesAndBracketedIpv6() {
        assertEquals(new HostPort("product", 8080), HostPort.parse("product:8080"));
        assertEquals(new HostPort("::1", 50051), HostPort.parse("[::1]:50051"));
        assertThrows(IllegalArgumentException.class, () -> HostPort.parse("product"));
        assertThrows(IllegalArgumentException.class, () -> HostPort.parse("product:0"));
        assertThrows(IllegalArgumentException.class, () -> HostPort.parse(":8080"));
    }

    @Test
    void durationsAsTypedOrIso() {
        DurationConverter converter = new DurationConverter();
        assertEquals(Duration.ofMillis(500), converter.convert("500ms"));
        assertEquals(Duration.ofSeconds(2), converter.convert("2s"));
        assertEquals(Duration.ofMinutes(1), converter.convert("1m"));
        assertEquals(Duration.ofSeconds(3), converter.convert("PT3S"));
        assertThrows(CommandLine.TypeConversionException.class, () -> converter.convert("2 hours"));
    }
}
