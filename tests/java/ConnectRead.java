// Reads a Wellhead topic as a Kafka Connect sink would, and prints what the sink sees.
//
// Usage: java -cp "<libs>/*:<classes>" ConnectRead <brokers> <registry url> <topic> <records> <timeout s>
//
// Each committed record (read_committed) goes through Confluent's AvroConverter (key and
// value, schemas from the registry) into a Connect record, then through Debezium's
// ExtractNewRecordState ("unwrap"), the transform sinks put in front of Debezium topics.
// One JSON line per record:
//
//   {"op": ..., "special": {field: text}, "columns": [{"name", "schema", "value"}...]}
//
// "special" is the envelope's special_values.after, taken before the transform drops the
// envelope. A schema is {"type", "name", "optional", "parameters", "items" (ARRAY),
// "fields" (STRUCT)}; a value is JSON: integers as numbers, floats as
// {"float": Java's text}, decimals as {"decimal": plain text}, Connect dates as
// {"days": n}, bytes as {"hex": ...}, structs as {"fields": [[name, value], ...]}
// (a VariableScaleDecimal also gets "decimal"), arrays as arrays.

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import io.confluent.connect.avro.AvroConverter;
import io.debezium.transforms.ExtractNewRecordState;
import java.math.BigDecimal;
import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaAndValue;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.sink.SinkRecord;

public class ConnectRead {
    private static final JsonNodeFactory JSON = JsonNodeFactory.instance;

    public static void main(String[] args) throws Exception {
        String brokers = args[0], registry = args[1], topic = args[2];
        int expected = Integer.parseInt(args[3]);
        long deadline = System.currentTimeMillis() + Long.parseLong(args[4]) * 1000;

        Map<String, String> converterConfig = Map.of("schema.registry.url", registry);
        AvroConverter keys = new AvroConverter();
        keys.configure(converterConfig, true);
        AvroConverter values = new AvroConverter();
        values.configure(converterConfig, false);
        ExtractNewRecordState<SinkRecord> unwrap = new ExtractNewRecordState<>();
        unwrap.configure(Map.of());

        Properties properties = new Properties();
        properties.put("bootstrap.servers", brokers);
        properties.put("isolation.level", "read_committed");
        properties.put("enable.auto.commit", "false");
        properties.put("max.partition.fetch.bytes", "16777216");
        ObjectMapper mapper = new ObjectMapper();
        int seen = 0;
        try (KafkaConsumer<byte[], byte[]> consumer =
                new KafkaConsumer<>(properties, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = new ArrayList<>();
            while (partitions.isEmpty() && System.currentTimeMillis() < deadline) {
                List<PartitionInfo> infos = consumer.partitionsFor(topic, Duration.ofSeconds(5));
                if (infos != null) {
                    for (PartitionInfo info : infos) {
                        partitions.add(new TopicPartition(topic, info.partition()));
                    }
                }
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            while (seen < expected && System.currentTimeMillis() < deadline) {
                for (ConsumerRecord<byte[], byte[]> record : consumer.poll(Duration.ofMillis(500))) {
                    if (record.value() == null) {
                        continue;
                    }
                    SchemaAndValue key = keys.toConnectData(topic, record.key());
                    SchemaAndValue value = values.toConnectData(topic, record.value());
                    Struct envelope = (Struct) value.value();
                    ObjectNode line = JSON.objectNode();
                    line.put("op", envelope.getString("op"));
                    ObjectNode special = line.putObject("special");
                    Struct specialValues = envelope.getStruct("special_values");
                    for (Map.Entry<Object, Object> entry : specialValues.getMap("after").entrySet()) {
                        special.put(entry.getKey().toString(), entry.getValue().toString());
                    }
                    SinkRecord sinkRecord = new SinkRecord(topic, record.partition(), key.schema(), key.value(),
                            value.schema(), value.value(), record.offset());
                    SinkRecord row = unwrap.apply(sinkRecord);
                    ArrayNode columns = line.putArray("columns");
                    Struct after = (Struct) row.value();
                    for (Field field : row.valueSchema().fields()) {
                        ObjectNode column = columns.addObject();
                        column.put("name", field.name());
                        column.set("schema", describe(field.schema()));
                        column.set("value", render(after.get(field), field.schema()));
                    }
                    System.out.println(mapper.writeValueAsString(line));
                    seen++;
                }
            }
        }
        if (seen < expected) {
            System.err.println("read " + seen + " of " + expected + " records before the timeout");
            System.exit(1);
        }
    }

    private static ObjectNode describe(Schema schema) {
        ObjectNode node = JSON.objectNode();
        node.put("type", schema.type().toString());
        node.put("name", schema.name());
        node.put("optional", schema.isOptional());
        ObjectNode parameters = node.putObject("parameters");
        if (schema.parameters() != null) {
            schema.parameters().forEach(parameters::put);
        }
        if (schema.type() == Schema.Type.ARRAY) {
            node.set("items", describe(schema.valueSchema()));
        }
        if (schema.type() == Schema.Type.STRUCT) {
            ArrayNode fields = node.putArray("fields");
            for (Field field : schema.fields()) {
                fields.addArray().add(field.name()).add(describe(field.schema()));
            }
        }
        return node;
    }

    private static JsonNode render(Object value, Schema schema) {
        if (value == null) {
            return JSON.nullNode();
        }
        if (value instanceof Struct struct) {
            ObjectNode node = JSON.objectNode();
            ArrayNode fields = node.putArray("fields");
            for (Field field : schema.fields()) {
                fields.addArray().add(field.name()).add(render(struct.get(field), field.schema()));
            }
            if ("io.debezium.data.VariableScaleDecimal".equals(schema.name())) {
                BigInteger unscaled = new BigInteger(bytes(struct.get("value")));
                node.put("decimal", new BigDecimal(unscaled, struct.getInt32("scale")).toPlainString());
            }
            return node;
        }
        if (value instanceof List<?> list) {
            ArrayNode items = JSON.arrayNode();
            for (Object item : list) {
                items.add(render(item, schema.valueSchema()));
            }
            return items;
        }
        if (value instanceof BigDecimal decimal) {
            return JSON.objectNode().put("decimal", decimal.toPlainString());
        }
        if (value instanceof java.util.Date date) {
            return JSON.objectNode().put("days", Math.floorDiv(date.getTime(), 86_400_000L));
        }
        if (value instanceof byte[] || value instanceof ByteBuffer) {
            return JSON.objectNode().put("hex", HexFormat.of().formatHex(bytes(value)));
        }
        if (value instanceof Float f) {
            return JSON.objectNode().put("float", Float.toString(f));
        }
        if (value instanceof Double d) {
            return JSON.objectNode().put("float", Double.toString(d));
        }
        if (value instanceof Boolean b) {
            return JSON.booleanNode(b);
        }
        if (value instanceof Number n) {
            return JSON.numberNode(n.longValue());
        }
        return JSON.textNode(value.toString());
    }

    private static byte[] bytes(Object value) {
        if (value instanceof ByteBuffer buffer) {
            byte[] copy = new byte[buffer.remaining()];
            buffer.duplicate().get(copy);
            return copy;
        }
        return (byte[]) value;
    }
}
