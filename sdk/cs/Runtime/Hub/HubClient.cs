// Hand-written runtime of the Unity package (copied by sdk/run.sh); the typed
// part of HubClient (an event per server frame, a Send method per client
// frame) is generated from asyncapi.yaml into Ws/HubClient.Frames.cs.
//
// HubClient mirrors the TypeScript HubClient (sdk/ts/src/hub.ts): one hub
// session that stays open, token in the upgrade's Authorization header (or
// the URL path), frames checked against the contract before they are
// dispatched, an application heartbeat that drops a silent session, and
// reconnects with full-jitter exponential backoff except after the close
// codes that mean "log in again" or "another session took over"
// (4001-4004). The socket runs on a background task; every event (frames,
// state changes) waits in a queue until the game calls DispatchPending on
// its main thread, so handlers may touch Unity objects.
using System;
using System.Collections.Concurrent;
using System.IO;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using System.Threading.Tasks;
using Newtonsoft.Json;
using Newtonsoft.Json.Linq;

namespace Paradise.Ws
{
  /// <summary>Where a HubClient's session is.</summary>
  public enum HubState
  {
    Idle,
    Connecting,
    Open,
    Reconnecting,
    Closed,
  }

  /// <summary>One state change of a HubClient.</summary>
  public sealed class HubStateChange
  {
    public HubState State { get; internal set; }
    public HubState Previous { get; internal set; }
    /// <summary>The close code that caused the change, when a socket closed (1006: it broke or never opened).</summary>
    public int? Code { get; internal set; }
    public string Reason { get; internal set; }
    /// <summary>For Reconnecting after a close: the wait before the next attempt, in milliseconds.</summary>
    public int? DelayMs { get; internal set; }

    public override string ToString()
    {
      return Previous + " -> " + State + (Code.HasValue ? " (code " + Code + (string.IsNullOrEmpty(Reason) ? "" : ": " + Reason) + ")" : "") + (DelayMs.HasValue ? " in " + DelayMs + " ms" : "");
    }
  }

  /// <summary>Settings of a HubClient.</summary>
  public sealed class HubOptions
  {
    /// <summary>Paradise base URL: http(s)://host[:port] or ws(s)://host[:port].</summary>
    public string BaseUrl { get; set; }
    /// <summary>A token from the REST login endpoints (device MAC login or user login).</summary>
    public string Token { get; set; }
    /// <summary>Put the token in the URL path (/ws/device/token/{token}/) instead of the Authorization header.</summary>
    public bool TokenInPath { get; set; }
    /// <summary>First reconnect delay bound in ms (default 500); doubles per failed attempt.</summary>
    public int ReconnectInitialMs { get; set; }
    /// <summary>Largest reconnect delay bound in ms (default 30000).</summary>
    public int ReconnectMaxMs { get; set; }
    /// <summary>Application heartbeat interval in ms (default 25000; 0 turns it off). A session silent for two intervals is dropped and reconnected.</summary>
    public int HeartbeatMs { get; set; }
    /// <summary>How long one connection attempt may take, in ms (default 10000).</summary>
    public int ConnectTimeoutMs { get; set; }
    /// <summary>The jitter's source of numbers in [0, 1); default a System.Random.</summary>
    public Func<double> Random { get; set; }
    /// <summary>Check each incoming frame against its schema in asyncapi.yaml (patterns, lengths, bounds) before it is dispatched (default true); a frame that fails raises InvalidFrame instead.</summary>
    public bool ValidateFrames { get; set; }
    /// <summary>Called on each new socket's options before it connects (proxy, certificates, extra headers).</summary>
    public Action<ClientWebSocketOptions> ConfigureSocket { get; set; }

    public HubOptions()
    {
      ValidateFrames = true;
      ReconnectInitialMs = 500;
      ReconnectMaxMs = 30000;
      HeartbeatMs = 25000;
      ConnectTimeoutMs = 10000;
    }
  }

  /// <summary>The reconnect policy, shared with the TypeScript HubClient.</summary>
  public static class HubBackoff
  {
    /// <summary>Close codes after which HubClient does not reconnect (asyncapi.yaml x-close-codes).</summary>
    public static bool IsTerminal(int code)
    {
      return code == 4001 || code == 4002 || code == 4003 || code == 4004;
    }

    /// <summary>The delay bound of the given failed attempt (0-based): initialMs doubled per attempt, at most maxMs.</summary>
    public static int Bound(int attempt, int initialMs, int maxMs)
    {
      double b = initialMs * Math.Pow(2, attempt);
      return b >= maxMs ? maxMs : (int)b;
    }

    /// <summary>
    /// Full jitter: a wait anywhere below the bound, so that many clients
    /// dropped by one restart do not come back in step. random is in [0, 1).
    /// </summary>
    public static int Delay(int attempt, int initialMs, int maxMs, double random)
    {
      return (int)Math.Floor(random * Bound(attempt, initialMs, maxMs));
    }
  }

  /// <summary>A hub session that stays open; see docs/sdk.md.</summary>
  public sealed partial class HubClient : IDisposable
  {
    const int ClosedAbnormally = 1006;
    const int HeartbeatTimeoutCode = 4000;

    readonly HubOptions opts;
    readonly Func<double> random;
    readonly ConcurrentQueue<Action> pending = new ConcurrentQueue<Action>();
    readonly SemaphoreSlim sendLock = new SemaphoreSlim(1, 1);
    readonly object gate = new object();
    HubState state = HubState.Idle;
    int attempt;
    bool stopped = true;
    bool heartbeatExpired;
    CancellationTokenSource lifetime;
    ClientWebSocket socket;
    long lastHeardTicks;
    TaskCompletionSource<ConnectedFrame> connecting;

    public HubClient(HubOptions options)
    {
      if (options == null) throw new ArgumentNullException("options");
      if (string.IsNullOrEmpty(options.BaseUrl)) throw new ArgumentException("HubOptions.BaseUrl is required");
      opts = options;
      var rnd = new System.Random();
      random = options.Random ?? (() => { lock (rnd) return rnd.NextDouble(); });
    }

    /// <summary>The session's state now (the StateChanged events trail it until dispatched).</summary>
    public HubState State { get { lock (gate) return state; } }

    /// <summary>The close code of the last closed socket, if any.</summary>
    public int? LastCloseCode { get; private set; }

    /// <summary>Every state change (Connecting, Open, Reconnecting, Closed); raised by DispatchPending.</summary>
    public event Action<HubStateChange> StateChanged;

    /// <summary>Every server frame that passed the checks, whatever its type (the generated class, e.g. ChatFrame); raised by DispatchPending before the frame's typed event.</summary>
    public event Action<object> FrameReceived;

    /// <summary>Each incoming frame that breaks the contract (raw JSON, problem); it is not dispatched. Raised by DispatchPending.</summary>
    public event Action<string, string> InvalidFrame;

    /// <summary>Each binary frame (the reply audio of a voice turn); raised by DispatchPending.</summary>
    public event Action<byte[]> BinaryReceived;

    /// <summary>
    /// Opens the session on a background task and returns at once. The task
    /// completes with the server's connected frame, or fails if the session
    /// closes first for good (e.g. 4001, an invalid token). Events still
    /// wait for DispatchPending.
    /// </summary>
    public Task<ConnectedFrame> Connect()
    {
      lock (gate)
      {
        if (!stopped) return connecting != null ? connecting.Task : Task.FromResult<ConnectedFrame>(null);
        stopped = false;
        attempt = 0;
        lifetime = new CancellationTokenSource();
        connecting = new TaskCompletionSource<ConnectedFrame>(TaskCreationOptions.RunContinuationsAsynchronously);
        var token = lifetime.Token;
        var result = connecting.Task;
        Task.Run(() => Run(token));
        return result;
      }
    }

    /// <summary>
    /// Runs the queued events (frames, state changes) on the calling thread,
    /// in arrival order; the game calls it once per frame from its main
    /// thread (HubClientRunner does under Unity). Returns how many ran. An
    /// exception from a handler propagates; the events after it stay queued.
    /// </summary>
    public int DispatchPending()
    {
      int n = 0;
      Action a;
      while (pending.TryDequeue(out a))
      {
        n++;
        a();
      }
      return n;
    }

    /// <summary>Sends a frame (a generated frame class); fails when the session is not open. Prefer the typed Send methods.</summary>
    public Task SendFrame(object frame)
    {
      ClientWebSocket ws;
      lock (gate)
      {
        ws = socket;
        if (ws == null || state != HubState.Open || ws.State != WebSocketState.Open)
          throw new InvalidOperationException("hub session is " + state + ", cannot send " + FrameType(frame));
      }
      return SendText(ws, JsonConvert.SerializeObject(frame));
    }

    /// <summary>
    /// Sends a binary frame (a voice turn's audio, between voice_start and
    /// voice_end); fails when the session is not open or the frame is empty.
    /// </summary>
    public Task SendBinary(byte[] data)
    {
      if (data == null) throw new ArgumentNullException("data");
      return SendBinary(data, 0, data.Length);
    }

    /// <summary>Sends count bytes of data from offset as one binary frame (a chunk of a longer recording).</summary>
    public Task SendBinary(byte[] data, int offset, int count)
    {
      if (data == null) throw new ArgumentNullException("data");
      if (offset < 0 || count < 0 || offset > data.Length - count) throw new ArgumentOutOfRangeException("count", "offset " + offset + " and count " + count + " do not fit " + data.Length + " bytes");
      if (count == 0) throw new ArgumentException("empty binary frame", "count");
      ClientWebSocket ws;
      lock (gate)
      {
        ws = socket;
        if (ws == null || state != HubState.Open || ws.State != WebSocketState.Open)
          throw new InvalidOperationException("hub session is " + state + ", cannot send a binary frame");
      }
      return SendMessage(ws, new ArraySegment<byte>(data, offset, count), WebSocketMessageType.Binary);
    }

    /// <summary>Closes the session for good (no reconnect).</summary>
    public void Close(int code = 1000, string reason = "client closed")
    {
      ClientWebSocket ws;
      CancellationTokenSource life;
      lock (gate)
      {
        if (stopped && state == HubState.Closed) return;
        stopped = true;
        ws = socket;
        socket = null;
        life = lifetime;
      }
      if (ws != null)
      {
        // Best effort: a close handshake that is not answered within a
        // second is abandoned (the server may already be gone).
        try
        {
          ws.CloseOutputAsync((WebSocketCloseStatus)code, reason, CancellationToken.None).Wait(1000);
        }
        catch (Exception)
        {
        }
      }
      if (life != null) life.Cancel();
      SetState(HubState.Closed, code, reason, null);
    }

    public void Dispose()
    {
      Close();
    }

    string Url()
    {
      string b = opts.BaseUrl.TrimEnd('/');
      if (b.StartsWith("http", StringComparison.OrdinalIgnoreCase)) b = "ws" + b.Substring(4);
      return opts.TokenInPath ? b + "/ws/device/token/" + Uri.EscapeDataString(opts.Token ?? "") + "/" : b + "/ws/device/";
    }

    async Task Run(CancellationToken life)
    {
      while (!life.IsCancellationRequested)
      {
        SetState(attempt == 0 ? HubState.Connecting : HubState.Reconnecting, null, null, null);
        int code = ClosedAbnormally;
        string reason = "";
        var ws = new ClientWebSocket();
        try
        {
          if (!opts.TokenInPath) ws.Options.SetRequestHeader("Authorization", "Token " + opts.Token);
          if (opts.ConfigureSocket != null) opts.ConfigureSocket(ws.Options);
          using (var timeout = CancellationTokenSource.CreateLinkedTokenSource(life))
          {
            timeout.CancelAfter(opts.ConnectTimeoutMs);
            await ws.ConnectAsync(new Uri(Url()), timeout.Token).ConfigureAwait(false);
          }
          lock (gate)
          {
            // Closed meanwhile (perhaps connected again: that is another Run).
            if (stopped || life.IsCancellationRequested) return;
            socket = ws;
            heartbeatExpired = false;
          }
          Heard();
          await Receive(ws, life).ConfigureAwait(false);
          code = ws.CloseStatus.HasValue ? (int)ws.CloseStatus.Value : ClosedAbnormally;
          reason = ws.CloseStatusDescription ?? "";
        }
        catch (Exception e)
        {
          reason = e.Message;
        }
        finally
        {
          lock (gate)
          {
            if (socket == ws) socket = null;
            if (heartbeatExpired)
            {
              code = HeartbeatTimeoutCode;
              reason = "heartbeat timeout";
            }
          }
          ws.Dispose();
        }
        int delay;
        lock (gate)
        {
          if (stopped || life.IsCancellationRequested) return; // Close() reported the state
          LastCloseCode = code;
          if (HubBackoff.IsTerminal(code))
          {
            stopped = true;
          }
          delay = HubBackoff.Delay(attempt, opts.ReconnectInitialMs, opts.ReconnectMaxMs, random());
          attempt++;
        }
        if (HubBackoff.IsTerminal(code))
        {
          SetState(HubState.Closed, code, reason, null);
          return;
        }
        SetState(HubState.Reconnecting, code, reason, delay);
        try
        {
          await Task.Delay(delay, life).ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
          return;
        }
      }
    }

    // Reads frames until the socket closes or breaks.
    async Task Receive(ClientWebSocket ws, CancellationToken life)
    {
      var buf = new byte[16384];
      CancellationTokenSource heartbeat = null;
      try
      {
        while (ws.State == WebSocketState.Open)
        {
          var msg = new MemoryStream();
          WebSocketReceiveResult r;
          do
          {
            r = await ws.ReceiveAsync(new ArraySegment<byte>(buf), life).ConfigureAwait(false);
            if (r.MessageType == WebSocketMessageType.Close) return;
            msg.Write(buf, 0, r.Count);
          } while (!r.EndOfMessage);
          Heard();
          if (r.MessageType == WebSocketMessageType.Binary)
          {
            var bytes = msg.ToArray();
            pending.Enqueue(() =>
            {
              var h = BinaryReceived;
              if (h != null) h(bytes);
            });
            continue;
          }
          var connected = Handle(Encoding.UTF8.GetString(msg.ToArray()));
          if (connected != null && heartbeat == null && opts.HeartbeatMs > 0)
          {
            heartbeat = CancellationTokenSource.CreateLinkedTokenSource(life);
            var hb = heartbeat.Token;
            _ = Task.Run(() => Heartbeat(ws, hb)); // ends with the socket (hb)
          }
        }
      }
      finally
      {
        if (heartbeat != null) heartbeat.Cancel();
      }
    }

    // Checks one text frame and queues its dispatch; returns the frame when it is `connected`.
    ConnectedFrame Handle(string raw)
    {
      object frame;
      string type;
      try
      {
        var o = FrameSchemas.ParseRaw(raw) as JObject;
        if (o == null)
        {
          Invalid(raw, "frame is not a JSON object");
          return null;
        }
        JToken t = o["type"];
        type = t != null && t.Type == JTokenType.String ? (string)t : null;
        if (type == null || Array.IndexOf(ServerFrameTypes, type) < 0)
        {
          Invalid(raw, "unknown server frame type " + (t == null ? "(none)" : t.ToString(Formatting.None)));
          return null;
        }
        if (opts.ValidateFrames)
        {
          var problem = FrameSchemas.Check(type, o);
          if (problem != null)
          {
            Invalid(raw, problem);
            return null;
          }
        }
        // The generated classes mark required properties Required.Always
        // and enums are closed: a frame that breaks its schema fails here.
        frame = Frames.Parse(raw);
      }
      catch (JsonException e)
      {
        Invalid(raw, e.Message);
        return null;
      }
      var connected = frame as ConnectedFrame;
      if (connected != null)
      {
        lock (gate) attempt = 0;
        SetState(HubState.Open, null, null, null);
      }
      pending.Enqueue(() =>
      {
        var any = FrameReceived;
        if (any != null) any(frame);
        DispatchTyped(frame);
      });
      if (connected != null)
      {
        TaskCompletionSource<ConnectedFrame> c;
        lock (gate) c = connecting;
        if (c != null) c.TrySetResult(connected);
      }
      return connected;
    }

    void Invalid(string raw, string problem)
    {
      pending.Enqueue(() =>
      {
        var h = InvalidFrame;
        if (h != null) h(raw, problem);
      });
    }

    // Sends a heartbeat frame every HeartbeatMs; a session that was silent
    // for two intervals (no pong, no frame) is aborted, and Run reconnects.
    async Task Heartbeat(ClientWebSocket ws, CancellationToken stop)
    {
      int every = opts.HeartbeatMs;
      try
      {
        while (!stop.IsCancellationRequested)
        {
          await Task.Delay(every, stop).ConfigureAwait(false);
          long silentMs = (DateTime.UtcNow.Ticks - Interlocked.Read(ref lastHeardTicks)) / TimeSpan.TicksPerMillisecond;
          if (silentMs > 2L * every)
          {
            lock (gate) heartbeatExpired = true;
            ws.Abort();
            return;
          }
          if (ws.State != WebSocketState.Open) return;
          var ts = (long)(DateTime.UtcNow - new DateTime(1970, 1, 1, 0, 0, 0, DateTimeKind.Utc)).TotalMilliseconds;
          await SendText(ws, JsonConvert.SerializeObject(new HeartbeatFrame { Message = new HeartbeatPayload { Ts = ts } })).ConfigureAwait(false);
        }
      }
      catch (OperationCanceledException)
      {
      }
      catch (Exception)
      {
        // The send failed: the socket is broken and Receive reports it.
      }
    }

    Task SendText(ClientWebSocket ws, string json)
    {
      return SendMessage(ws, new ArraySegment<byte>(Encoding.UTF8.GetBytes(json)), WebSocketMessageType.Text);
    }

    async Task SendMessage(ClientWebSocket ws, ArraySegment<byte> bytes, WebSocketMessageType type)
    {
      // ClientWebSocket allows one send at a time (heartbeats, frames and
      // audio chunks may come from different threads).
      await sendLock.WaitAsync().ConfigureAwait(false);
      try
      {
        await ws.SendAsync(bytes, type, true, CancellationToken.None).ConfigureAwait(false);
      }
      finally
      {
        sendLock.Release();
      }
    }

    void Heard()
    {
      Interlocked.Exchange(ref lastHeardTicks, DateTime.UtcNow.Ticks);
    }

    // Records the state now and queues its event; like the TypeScript client
    // it reports Reconnecting every time (each attempt) and other states once.
    void SetState(HubState next, int? code, string reason, int? delayMs)
    {
      HubStateChange change;
      TaskCompletionSource<ConnectedFrame> failed = null;
      lock (gate)
      {
        if (state == next && next != HubState.Reconnecting) return;
        change = new HubStateChange { State = next, Previous = state, Code = code, Reason = reason, DelayMs = delayMs };
        state = next;
        if (next == HubState.Closed)
        {
          failed = connecting;
          connecting = null;
        }
      }
      if (failed != null) failed.TrySetException(new InvalidOperationException("hub closed (code " + (code.HasValue ? code.ToString() : "none") + (string.IsNullOrEmpty(reason) ? "" : ": " + reason) + ")"));
      pending.Enqueue(() =>
      {
        var h = StateChanged;
        if (h != null) h(change);
      });
    }

    static string FrameType(object frame)
    {
      var p = frame == null ? null : frame.GetType().GetProperty("Type");
      return p == null ? "frame" : Convert.ToString(p.GetValue(frame, null));
    }
  }
}
