import io.debezium.engine.ChangeEvent;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.format.Json;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.Properties;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * Debezium's embedded engine with its Postgres connector, configured as Kappa's CDC documents its
 * choices (decimal and interval handling as strings, adaptive time precision), printing every event
 * as a JSON line {"topic", "key", "value"} on stdout until stdin closes. `{"started":true}` once the
 * connector task runs. Args: host port database user tables slot publication snapshotMode.
 */
public class DebeziumCapture {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("name", "kappa-side-by-side");
    props.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
    props.setProperty("offset.storage", "org.apache.kafka.connect.storage.MemoryOffsetBackingStore");
    props.setProperty("offset.flush.interval.ms", "1000");
    props.setProperty("database.hostname", args[0]);
    props.setProperty("database.port", args[1]);
    props.setProperty("database.dbname", args[2]);
    props.setProperty("database.user", args[3]);
    props.setProperty("database.password", "");
    props.setProperty("table.include.list", args[4]);
    props.setProperty("slot.name", args[5]);
    props.setProperty("publication.name", args[6]);
    props.setProperty("publication.autocreate.mode", "filtered");
    props.setProperty("snapshot.mode", args[7]);
    props.setProperty("plugin.name", "pgoutput");
    props.setProperty("topic.prefix", "shop");
    props.setProperty("decimal.handling.mode", "string");
    props.setProperty("interval.handling.mode", "string");
    props.setProperty("key.converter.schemas.enable", "false");
    props.setProperty("value.converter.schemas.enable", "false");
    props.setProperty("converter.schemas.enable", "false");
    PrintStream out = new PrintStream(System.out, false, StandardCharsets.UTF_8);
    DebeziumEngine<ChangeEvent<String, String>> engine = DebeziumEngine.create(Json.class)
        .using(props)
        .using(new DebeziumEngine.ConnectorCallback() {
          @Override
          public void taskStarted() {
            synchronized (out) {
              out.println("{\"started\":true}");
              out.flush();
            }
          }
        })
        .notifying(event -> {
          synchronized (out) {
            out.println("{\"topic\":\"" + event.destination() + "\",\"key\":" + event.key() + ",\"value\":"
                + (event.value() == null ? "null" : event.value()) + "}");
            out.flush();
          }
        })
        .build();
    ExecutorService executor = Executors.newSingleThreadExecutor();
    executor.execute(engine);
    while (System.in.read() != -1) {}
    engine.close();
    executor.shutdown();
  }
}
