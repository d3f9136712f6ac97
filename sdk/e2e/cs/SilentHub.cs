// A hub stand-in that completes the WebSocket handshake, sends one valid
// `connected` frame and then never says anything again (no pong): the
// C# walk uses it to see HubClient drop a silent session on its heartbeat
// timeout and reconnect. A bare TcpListener, so that it runs under Mono
// without HttpListener's WebSocket support.
using System;
using System.IO;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using System.Text;
using System.Threading;

sealed class SilentHub : IDisposable
{
  readonly TcpListener listener = new TcpListener(IPAddress.Loopback, 0);
  int connections;

  public SilentHub()
  {
    listener.Start();
    var t = new Thread(Accept) { IsBackground = true };
    t.Start();
  }

  public string BaseUrl { get { return "http://127.0.0.1:" + ((IPEndPoint)listener.LocalEndpoint).Port; } }

  /// <summary>How many WebSocket handshakes it completed.</summary>
  public int Connections { get { return Volatile.Read(ref connections); } }

  void Accept()
  {
    for (;;)
    {
      TcpClient c;
      try { c = listener.AcceptTcpClient(); }
      catch (Exception) { return; } // stopped
      var t = new Thread(() => Serve(c)) { IsBackground = true };
      t.Start();
    }
  }

  void Serve(TcpClient c)
  {
    using (c)
    {
      try
      {
        var s = c.GetStream();
        var head = new StringBuilder();
        while (!head.ToString().EndsWith("\r\n\r\n"))
        {
          int b = s.ReadByte();
          if (b < 0) return;
          head.Append((char)b);
        }
        string key = null;
        foreach (var line in head.ToString().Split(new[] { "\r\n" }, StringSplitOptions.None))
          if (line.StartsWith("Sec-WebSocket-Key:", StringComparison.OrdinalIgnoreCase)) key = line.Substring(18).Trim();
        string accept;
        using (var sha = SHA1.Create())
          accept = Convert.ToBase64String(sha.ComputeHash(Encoding.ASCII.GetBytes(key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11")));
        var resp = Encoding.ASCII.GetBytes("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n");
        s.Write(resp, 0, resp.Length);
        Interlocked.Increment(ref connections);
        var hello = Encoding.UTF8.GetBytes("{\"type\":\"connected\",\"message\":{\"user_id\":1,\"role\":\"app\",\"mac_address\":null,\"connection_id\":\"silent-1\",\"server_time\":\"2026-01-01T00:00:00Z\"}}");
        var frame = new MemoryStream();
        frame.WriteByte(0x81); // FIN, text
        frame.WriteByte(126);  // 16-bit length follows (server frames are not masked)
        frame.WriteByte((byte)(hello.Length >> 8));
        frame.WriteByte((byte)hello.Length);
        frame.Write(hello, 0, hello.Length);
        s.Write(frame.ToArray(), 0, (int)frame.Length);
        var buf = new byte[4096];
        while (s.Read(buf, 0, buf.Length) > 0) { } // the client's heartbeats: never answered
      }
      catch (Exception) { }
    }
  }

  public void Dispose() { listener.Stop(); }
}
