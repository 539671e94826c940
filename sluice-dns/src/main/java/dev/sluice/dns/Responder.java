package dev.sluice.dns;

import org.xbill.DNS.DClass;
import org.xbill.DNS.Flags;
import org.xbill.DNS.Message;
import org.xbill.DNS.Name;
import org.xbill.DNS.OPTRecord;
import org.xbill.DNS.Opcode;
import org.xbill.DNS.Rcode;
import org.xbill.DNS.Record;
import org.xbill.DNS.SRVRecord;
import org.xbill.DNS.Section;
import org.xbill.DNS.Type;

import java.io.IOException;
import java.util.List;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * Answers one query from the records in force: with authority inside the cluster's zones (NXDOMAIN or
 * NODATA with the zone's SOA when there is nothing), REFUSED at once for any other name, since the cluster
 * has no way out and a forwarder that cannot forward would only make clients wait.
 */
public final class Responder {
    /** A UDP answer without EDNS fits in 512 bytes (RFC 1035); longer ones are truncated, and the client retries over TCP. */
    static final int UDP_LIMIT = 512;

    private final Supplier<ClusterRecords> records;

    public Responder(Supplier<ClusterRecords> records) {
        this.records = records;
    }

    /** The answer to a query in wire format, at most {@code maxLength} bytes (TC set when cut); null if it is not a query at all. */
    public byte[] answer(byte[] query, int maxLength) {
        Reply reply = reply(query, maxLength);
        return reply == null ? null : reply.wire();
    }

    /**
     * An answer in wire format and as a message (what was answered, for the flow the server reports; null when
     * the query did not parse).
     */
    public record Reply(byte[] wire, Message message) {
    }

    /** As {@link #answer(byte[], int)}, with the answer as a message too; null if it is not a query at all. */
    public Reply reply(byte[] query, int maxLength) {
        Message q;
        try {
            q = new Message(query);
        } catch (IOException e) {
            byte[] err = formErr(query);
            return err == null ? null : new Reply(err, null);
        }
        if (q.getHeader().getFlag(Flags.QR)) {
            return null; // a response: never answer one (no loops between servers)
        }
        Message r = answer(q);
        OPTRecord opt = q.getOPT();
        int limit = maxLength;
        if (maxLength == UDP_LIMIT && opt != null) {
            limit = Math.max(UDP_LIMIT, Math.min(opt.getPayloadSize(), 4096));
        }
        return new Reply(r.toWire(limit), r);
    }

    Message answer(Message q) {
        Message r = new Message(q.getHeader().getID());
        r.getHeader().setFlag(Flags.QR);
        if (q.getHeader().getFlag(Flags.RD)) {
            r.getHeader().setFlag(Flags.RD);
        }
        r.getHeader().setOpcode(q.getHeader().getOpcode());
        Record question = q.getQuestion();
        if (q.getHeader().getOpcode() != Opcode.QUERY) {
            r.getHeader().setRcode(Rcode.NOTIMP);
            return r;
        }
        if (question == null) {
            r.getHeader().setRcode(Rcode.FORMERR);
            return r;
        }
        r.addRecord(question, Section.QUESTION);
        if (q.getOPT() != null) {
            r.addRecord(new OPTRecord(4096, 0, 0), Section.ADDITIONAL);
        }
        ClusterRecords zone = records.get();
        Name name = question.getName();
        Optional<Name> apex = zone.zoneOf(name);
        if (apex.isEmpty() || question.getDClass() != DClass.IN) {
            r.getHeader().setRcode(Rcode.REFUSED);
            return r;
        }
        r.getHeader().setFlag(Flags.AA);
        int type = question.getType();
        List<Record> all = zone.records(name);
        List<Record> matching = all.stream().filter(x -> type == Type.ANY || x.getType() == type).toList();
        if (matching.isEmpty()) {
            if (type == Type.SOA && name.equals(apex.get())) {
                r.addRecord(zone.soa(apex.get()), Section.ANSWER);
                return r;
            }
            r.getHeader().setRcode(zone.exists(name) ? Rcode.NOERROR : Rcode.NXDOMAIN);
            r.addRecord(zone.soa(apex.get()), Section.AUTHORITY);
            return r;
        }
        for (Record x : matching) {
            r.addRecord(x.withName(name), Section.ANSWER); // the name as asked (its case), as resolvers compare it
        }
        // SRV targets' addresses, so that a client needs no second query.
        for (Record x : matching) {
            if (x instanceof SRVRecord srv) {
                zone.records(srv.getTarget()).stream().filter(a -> a.getType() == Type.A)
                        .filter(a -> !r.findRecord(a, Section.ADDITIONAL))
                        .forEach(a -> r.addRecord(a, Section.ADDITIONAL));
            }
        }
        return r;
    }

    /** FORMERR for a message that does not parse, if at least its header does. */
    private static byte[] formErr(byte[] query) {
        if (query.length < 12) {
            return null;
        }
        Message r = new Message(((query[0] & 0xff) << 8) | (query[1] & 0xff));
        r.getHeader().setFlag(Flags.QR);
        r.getHeader().setRcode(Rcode.FORMERR);
        return r.toWire();
    }
}
