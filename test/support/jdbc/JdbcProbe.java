import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.sql.Timestamp;
import java.util.Properties;

/**
 * A JDBC client of Kappa's Postgres port, as Java tools (DBeaver, Metabase, Spark) use it: PgJDBC
 * with its defaults, so statements run past prepareThreshold (5) become server-prepared and take
 * binary parameters and binary results. Reads the test's `revenue` view (key, n BIGINT, total
 * DOUBLE) and prints one tab-separated line per value read, for test/serve/pg-server.test.ts.
 *
 * Usage: java -cp '.cache/jdbc/libs/*' JdbcProbe.java PORT PASSWORD
 */
public class JdbcProbe {
  public static void main(String[] args) throws Exception {
    Properties props = new Properties();
    props.setProperty("user", "kappa");
    props.setProperty("password", args[1]);
    String url = "jdbc:postgresql://127.0.0.1:" + args[0] + "/kappa";
    try (Connection c = DriverManager.getConnection(url, props)) {
      try (Statement s = c.createStatement();
          ResultSet rs = s.executeQuery("SELECT key, n, total, window_start, kind FROM revenue ORDER BY key")) {
        while (rs.next())
          out("all", rs.getString(1), rs.getLong(2), rs.getDouble(3), rs.getTimestamp(4).getTime(), rs.getString(5));
      }
      // Eight runs: the sixth on is a named statement with binary int4 and text parameters and binary results.
      try (PreparedStatement p =
          c.prepareStatement("SELECT key, n, total, window_start FROM revenue WHERE n >= ? AND key <> ? ORDER BY key")) {
        for (int i = 0; i < 8; i++) {
          p.setInt(1, 1 + i % 2);
          p.setString(2, "m3");
          try (ResultSet rs = p.executeQuery()) {
            while (rs.next())
              out("prepared", i, rs.getString(1), rs.getLong(2), rs.getDouble(3), rs.getTimestamp(4).getTime());
          }
        }
      }
      try (PreparedStatement p = c.prepareStatement(
          "SELECT count(*) AS c FROM revenue WHERE n > ? AND total < ? AND (kind = 'final') = ? AND window_start >= ?")) {
        for (int i = 0; i < 7; i++) {
          p.setLong(1, 0L);
          p.setDouble(2, 7.0);
          p.setBoolean(3, true);
          p.setTimestamp(4, new Timestamp(60_000L));
          try (ResultSet rs = p.executeQuery()) {
            rs.next();
            out("typed", i, rs.getLong(1));
          }
        }
      }
      try (PreparedStatement p = c.prepareStatement("SELECT sum(n) AS s, avg(total) AS a, max(window_end) AS e FROM revenue")) {
        for (int i = 0; i < 7; i++) {
          try (ResultSet rs = p.executeQuery()) {
            rs.next();
            out("aggregate", i, rs.getBigDecimal(1), rs.getDouble(2), rs.getTimestamp(3).getTime());
          }
        }
      }
      for (String write : new String[] {"DELETE FROM revenue", "CREATE TABLE evil (a INT)"}) {
        try (Statement s = c.createStatement()) {
          s.executeUpdate(write);
          out("write", write, "accepted");
        } catch (SQLException e) {
          out("write", write, e.getSQLState());
        }
      }
      try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM revenue")) {
        rs.next();
        out("after", rs.getLong(1));
      }
    }
  }

  private static void out(Object... values) {
    StringBuilder line = new StringBuilder();
    for (Object v : values) {
      if (line.length() > 0) line.append('\t');
      line.append(v);
    }
    System.out.println(line);
  }
}
