package dev.sluice.l7.xds;

import com.google.protobuf.Any;
import com.google.protobuf.Descriptors.Descriptor;
import com.google.protobuf.Descriptors.EnumValueDescriptor;
import com.google.protobuf.Descriptors.FieldDescriptor;
import com.google.protobuf.Descriptors.OneofDescriptor;
import com.google.protobuf.DynamicMessage;
import com.google.protobuf.InvalidProtocolBufferException;
import com.google.protobuf.Message;
import io.envoyproxy.pgv.validate.Validate;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks a resource against the protoc-gen-validate rules Envoy's protos carry ({@code (validate.rules)} field
 * options and {@code (validate.required)} oneofs), which Envoy enforces when it loads a resource. The api artifact
 * holds the rules as descriptor options but no generated validators, so this reads them by reflection. It covers
 * the rules resources fail on in practice: required messages and oneofs, string lengths, repeated and map sizes,
 * numeric and duration bounds, defined enum values; it recurses into set messages, including {@code Any}s whose
 * type {@link EnvoyTypes#REGISTRY} knows. Regex and well-known string formats are not checked.
 */
public final class PgvValidator {
    private PgvValidator() {
    }

    /** The violations, each as {@code path: rule}; empty when the message satisfies every rule checked. */
    public static List<String> validate(Message message) {
        List<String> out = new ArrayList<>();
        check(message, message.getDescriptorForType().getName(), out);
        return out;
    }

    private static void check(Message m, String path, List<String> out) {
        Descriptor d = m.getDescriptorForType();
        if (d.getOptions().hasExtension(Validate.disabled) && d.getOptions().getExtension(Validate.disabled)) {
            return;
        }
        for (OneofDescriptor oneof : d.getRealOneofs()) {
            if (oneof.getOptions().hasExtension(Validate.required) && oneof.getOptions().getExtension(Validate.required)
                    && !m.hasOneof(oneof)) {
                out.add(path + ": one of " + oneof.getName() + " is required");
            }
        }
        for (FieldDescriptor f : d.getFields()) {
            String at = path + "." + f.getName();
            Validate.FieldRules rules = f.getOptions().hasExtension(Validate.rules) ? f.getOptions().getExtension(Validate.rules) : null;
            if (f.isMapField()) {
                List<?> entries = (List<?>) m.getField(f);
                if (rules != null && rules.hasMap()) {
                    if (rules.getMap().hasMinPairs() && entries.size() < rules.getMap().getMinPairs()) {
                        out.add(at + ": at least " + rules.getMap().getMinPairs() + " entries required");
                    }
                }
                FieldDescriptor value = f.getMessageType().findFieldByName("value");
                for (Object e : entries) {
                    Message entry = (Message) e;
                    if (value.getJavaType() == FieldDescriptor.JavaType.MESSAGE) {
                        nested((Message) entry.getField(value), at + "[" + entry.getField(f.getMessageType().findFieldByName("key")) + "]", out);
                    }
                }
                continue;
            }
            if (f.isRepeated()) {
                int n = m.getRepeatedFieldCount(f);
                if (rules != null && rules.hasRepeated()) {
                    Validate.RepeatedRules r = rules.getRepeated();
                    if (r.hasMinItems() && n < r.getMinItems()) {
                        out.add(at + ": at least " + r.getMinItems() + " item(s) required, has " + n);
                    }
                    if (r.hasMaxItems() && n > r.getMaxItems()) {
                        out.add(at + ": at most " + r.getMaxItems() + " item(s) allowed, has " + n);
                    }
                }
                for (int i = 0; i < n; i++) {
                    Object v = m.getRepeatedField(f, i);
                    if (rules != null && rules.hasRepeated() && rules.getRepeated().hasItems()) {
                        scalar(f, v, rules.getRepeated().getItems(), at + "[" + i + "]", out);
                    }
                    if (v instanceof Message nestedMessage) {
                        nested(nestedMessage, at + "[" + i + "]", out);
                    }
                }
                continue;
            }
            if (f.getRealContainingOneof() != null && !m.hasField(f)) {
                continue; // PGV applies a oneof member's rules only when it is the member set
            }
            boolean set = f.hasPresence() ? m.hasField(f) : true;
            if (rules != null && rules.hasMessage() && rules.getMessage().getRequired() && !m.hasField(f)) {
                out.add(at + ": required");
            }
            if (rules != null && rules.hasDuration() && rules.getDuration().getRequired() && !m.hasField(f)) {
                out.add(at + ": required");
            }
            if (rules != null && rules.hasAny() && rules.getAny().getRequired() && !m.hasField(f)) {
                out.add(at + ": required");
            }
            if (!set) {
                continue;
            }
            Object v = m.getField(f);
            if (rules != null) {
                scalar(f, v, rules, at, out);
            }
            if (v instanceof Message nestedMessage && m.hasField(f)) {
                nested(nestedMessage, at, out);
            }
        }
    }

    private static void nested(Message m, String at, List<String> out) {
        if (m instanceof Any any) {
            String type = any.getTypeUrl().substring(any.getTypeUrl().lastIndexOf('/') + 1);
            Descriptor known = EnvoyTypes.REGISTRY.find(type);
            if (known != null) {
                try {
                    check(DynamicMessage.parseFrom(known, any.getValue()), at + "<" + known.getName() + ">", out);
                } catch (InvalidProtocolBufferException e) {
                    out.add(at + ": not a valid " + type + ": " + e.getMessage());
                }
            }
            return;
        }
        check(m, at, out);
    }

    /** Scalar rules (and the same rules on a wrapper such as UInt32Value, as PGV applies them). */
    private static void scalar(FieldDescriptor f, Object v, Validate.FieldRules rules, String at, List<String> out) {
        if (v instanceof Message wrapper && wrapper.getDescriptorForType().getFullName().startsWith("google.protobuf.")
                && wrapper.getDescriptorForType().getName().endsWith("Value") && wrapper.getDescriptorForType().findFieldByName("value") != null) {
            v = wrapper.getField(wrapper.getDescriptorForType().findFieldByName("value"));
        }
        switch (rules.getTypeCase()) {
            case STRING -> {
                Validate.StringRules s = rules.getString();
                String text = (String) v;
                long chars = text.codePointCount(0, text.length());
                if (s.hasMinLen() && chars < s.getMinLen()) {
                    out.add(at + ": at least " + s.getMinLen() + " character(s) required");
                }
                if (s.hasMaxLen() && chars > s.getMaxLen()) {
                    out.add(at + ": at most " + s.getMaxLen() + " character(s) allowed");
                }
                if (s.hasMinBytes() && text.getBytes(StandardCharsets.UTF_8).length < s.getMinBytes()) {
                    out.add(at + ": at least " + s.getMinBytes() + " byte(s) required");
                }
            }
            case UINT32 -> bounds(((Number) v).longValue() & 0xffffffffL, rules.getUint32().hasGt() ? (long) rules.getUint32().getGt() & 0xffffffffL : null,
                    rules.getUint32().hasGte() ? (long) rules.getUint32().getGte() & 0xffffffffL : null,
                    rules.getUint32().hasLt() ? (long) rules.getUint32().getLt() & 0xffffffffL : null,
                    rules.getUint32().hasLte() ? (long) rules.getUint32().getLte() & 0xffffffffL : null, at, out);
            case INT32 -> bounds(((Number) v).longValue(), rules.getInt32().hasGt() ? (long) rules.getInt32().getGt() : null,
                    rules.getInt32().hasGte() ? (long) rules.getInt32().getGte() : null,
                    rules.getInt32().hasLt() ? (long) rules.getInt32().getLt() : null,
                    rules.getInt32().hasLte() ? (long) rules.getInt32().getLte() : null, at, out);
            case UINT64 -> bounds(((Number) v).longValue(), rules.getUint64().hasGt() ? rules.getUint64().getGt() : null,
                    rules.getUint64().hasGte() ? rules.getUint64().getGte() : null,
                    rules.getUint64().hasLt() ? rules.getUint64().getLt() : null,
                    rules.getUint64().hasLte() ? rules.getUint64().getLte() : null, at, out);
            case INT64 -> bounds(((Number) v).longValue(), rules.getInt64().hasGt() ? rules.getInt64().getGt() : null,
                    rules.getInt64().hasGte() ? rules.getInt64().getGte() : null,
                    rules.getInt64().hasLt() ? rules.getInt64().getLt() : null,
                    rules.getInt64().hasLte() ? rules.getInt64().getLte() : null, at, out);
            case ENUM -> {
                if (rules.getEnum().getDefinedOnly() && v instanceof EnumValueDescriptor e && e.getIndex() < 0) {
                    out.add(at + ": value " + e.getNumber() + " is not defined");
                }
            }
            case DURATION -> {
                if (v instanceof com.google.protobuf.Duration duration) {
                    long nanos = duration.getSeconds() * 1_000_000_000L + duration.getNanos();
                    Validate.DurationRules r = rules.getDuration();
                    if (r.hasGt() && nanos <= r.getGt().getSeconds() * 1_000_000_000L + r.getGt().getNanos()) {
                        out.add(at + ": must be greater than " + r.getGt().getSeconds() + "s");
                    }
                    if (r.hasGte() && nanos < r.getGte().getSeconds() * 1_000_000_000L + r.getGte().getNanos()) {
                        out.add(at + ": must be at least " + r.getGte().getSeconds() + "s");
                    }
                }
            }
            default -> {
                // Other rule kinds (bytes, doubles, timestamps, regex formats) are not checked.
            }
        }
    }

    private static void bounds(long v, Long gt, Long gte, Long lt, Long lte, String at, List<String> out) {
        if (gt != null && v <= gt) {
            out.add(at + ": " + v + " must be greater than " + gt);
        }
        if (gte != null && v < gte) {
            out.add(at + ": " + v + " must be at least " + gte);
        }
        if (lt != null && v >= lt) {
            out.add(at + ": " + v + " must be less than " + lt);
        }
        if (lte != null && v > lte) {
            out.add(at + ": " + v + " must be at most " + lte);
        }
    }

}
