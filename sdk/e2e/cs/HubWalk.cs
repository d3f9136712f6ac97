// The C# e2e walk's part on the packaged HubClient (Paradise.Ws.HubClient,
// from the built Paradise.Sdk.dll), the numeric enums and the Task twins of
// the REST client. Called from E2E.Main; the program's main loop plays the
// game: it calls DispatchPending on each client while it waits.
using System;
using System.Collections.Generic;
using System.IO;
using System.Threading;
using Newtonsoft.Json;
using Paradise;
using Paradise.Rest;
using Paradise.Ws;

static partial class E2E
{
  // Runs the clients' queued events until cond holds; throws after timeoutMs.
  static void PumpUntil(Func<bool> cond, int timeoutMs, string what, params HubClient[] hubs)
  {
    PumpUntil(cond, timeoutMs, () => what, hubs);
  }

  // The same, with the failure message built when it fails (the state trails then).
  static void PumpUntil(Func<bool> cond, int timeoutMs, Func<string> what, params HubClient[] hubs)
  {
    var deadline = DateTime.UtcNow.AddMilliseconds(timeoutMs);
    for (;;)
    {
      foreach (var h in hubs) h.DispatchPending();
      if (cond()) return;
      if (DateTime.UtcNow > deadline) throw new Exception("timed out waiting for " + what());
      Thread.Sleep(10);
    }
  }

  // A hub client whose state changes are recorded in order.
  static HubClient NewHub(string token, bool tokenInPath, List<HubStateChange> states, int heartbeatMs = 25000)
  {
    var hub = new HubClient(new HubOptions
    {
      BaseUrl = Base,
      Token = token,
      TokenInPath = tokenInPath,
      ReconnectInitialMs = 100,
      ReconnectMaxMs = 1000, // the restart below takes a few seconds
      HeartbeatMs = heartbeatMs,
    });
    hub.StateChanged += c => states.Add(c);
    return hub;
  }

  static string Trail(List<HubStateChange> states)
  {
    return string.Join(", ", states.ConvertAll(c => c.ToString()).ToArray());
  }

  static void HubWalk(ParadiseClient api, ParadiseClient anon, string mac)
  {
    Step("numeric enums are JSON numbers (sample_rate 8000), both ways; a string or an unknown rate is rejected", () =>
    {
      var json = JsonConvert.SerializeObject(new TextToSpeechRequest { Text = "hi", SampleRate = TextToSpeechSampleRate.V8000 });
      Check(json.Contains("\"sample_rate\":8000"), json);
      var back = JsonConvert.DeserializeObject<TextToSpeechRequest>("{\"text\":\"hi\",\"sample_rate\":24000}");
      Check(back.SampleRate == TextToSpeechSampleRate.V24000, "read " + back.SampleRate);
      Check(JsonConvert.SerializeObject(new TextToSpeechRequest { Text = "hi" }) == "{\"text\":\"hi\"}", "unset rate omitted");
      foreach (var bad in new[] { "\"8000\"", "12345" })
      {
        bool threw = false;
        try { JsonConvert.DeserializeObject<TextToSpeechRequest>("{\"text\":\"hi\",\"sample_rate\":" + bad + "}"); }
        catch (JsonSerializationException) { threw = true; }
        Check(threw, "accepted sample_rate " + bad);
      }
    });

    Step("REST Task twins (HttpClient transport) and AsCoroutine", () =>
    {
      var task = api.GetProfileAsync();
      var co = task.AsCoroutine();
      int frames = 0;
      while (co.MoveNext()) frames++; // a coroutine runner's loop
      Check(task.IsCompleted && task.Result.Data.Nickname == "Cee", "profile: " + JsonConvert.SerializeObject(task.Result));
      var bad = new ParadiseClient(Base) { Token = "not-a-token" }.GetProfileAsync();
      try { bad.Wait(); throw new Exception("succeeded, want 401"); }
      catch (AggregateException e)
      {
        var api401 = e.InnerException as ApiException;
        Check(api401 != null && api401.Status == 401 && api401.Envelope.Code == 401, "error: " + e.InnerException);
      }
    });

    Step("HubClient drops a silent session (no pong for two heartbeat intervals: code 4000) and reconnects", () =>
    {
      using (var silent = new SilentHub())
      {
        var states = new List<HubStateChange>();
        var hub = new HubClient(new HubOptions { BaseUrl = silent.BaseUrl, Token = "t", HeartbeatMs = 100, ReconnectInitialMs = 50, ReconnectMaxMs = 100 });
        hub.StateChanged += c => states.Add(c);
        try
        {
          Check(hub.Connect().Wait(10000), "connected frame");
          PumpUntil(() => states.Exists(c => c.State == HubState.Reconnecting && c.Code == 4000) && silent.Connections >= 2 && hub.State == HubState.Open,
            20000, () => "a heartbeat timeout and a new session: " + Trail(states), hub);
          var drop = states.Find(c => c.Code == 4000);
          Check(drop.Reason == "heartbeat timeout" && hub.LastCloseCode == 4000, "drop: " + drop);
        }
        finally
        {
          hub.Close();
        }
      }
    });

    Step("HubBackoff: full jitter below a doubling bound, capped; 4001-4004 are terminal", () =>
    {
      Check(HubBackoff.Bound(0, 500, 30000) == 500 && HubBackoff.Bound(3, 500, 30000) == 4000 && HubBackoff.Bound(10, 500, 30000) == 30000 && HubBackoff.Bound(100, 500, 30000) == 30000, "bounds");
      Check(HubBackoff.Delay(3, 500, 30000, 0) == 0 && HubBackoff.Delay(3, 500, 30000, 0.999999) == 3999 && HubBackoff.Delay(3, 500, 30000, 0.5) == 2000, "delays");
      foreach (var code in new[] { 4001, 4002, 4003, 4004 }) Check(HubBackoff.IsTerminal(code), code + " not terminal");
      foreach (var code in new[] { 1000, 1001, 1006, 1008, 1013, 4000 }) Check(!HubBackoff.IsTerminal(code), code + " terminal");
    });

    string deviceToken = null;
    Step("FrameSchemas: frames are checked against asyncapi.yaml beyond Json.NET (patterns, lengths, bounds)", () =>
    {
      const string from = ",\"from\":{\"role\":\"device\",\"mac_address\":\"AA:BB:CC:00:00:01\",\"connection_id\":\"c1\"}";
      Func<string, string> check = raw => FrameSchemas.Check((string)FrameSchemas.ParseRaw(raw)["type"], FrameSchemas.ParseRaw(raw));
      Check(check("{\"type\":\"chat\",\"message\":{\"text\":\"hi \ud83d\ude00\"}" + from + "}") == null, "a valid chat frame was refused");
      Check(check("{\"type\":\"pong\",\"message\":{\"ts\":1700000000000,\"extra\":true}}") == null, "unknown fields must be allowed");
      var cases = new[]
      {
        new[] { "{\"type\":\"chat\",\"message\":{\"text\":\"\"}" + from + "}", "$.message.text: shorter than 1" },
        new[] { "{\"type\":\"chat\",\"message\":{\"text\":\"" + new string('x', 4001) + "\"}" + from + "}", "$.message.text: longer than 4000" },
        new[] { "{\"type\":\"chat\",\"message\":{\"text\":\"hi\"}" + from.Replace("AA:BB:CC:00:00:01", "aa-bb") + "}", "$.from.mac_address: does not match" },
        new[] { "{\"type\":\"pong\",\"message\":{\"ts\":-1}}", "$.message.ts: below 0" },
        new[] { "{\"type\":\"pong\",\"message\":{\"ts\":1.5}}", "$.message.ts: want integer" },
        new[] { "{\"type\":\"pong\",\"message\":{}}", "$.message.ts: required" },
      };
      foreach (var c in cases)
      {
        var problem = check(c[0]);
        Check(problem != null && problem.StartsWith(c[1]), "frame " + (c[0].Length > 80 ? c[0].Substring(0, 80) + "..." : c[0]) + ": got " + (problem ?? "no problem") + ", want " + c[1]);
      }
    });

    Step("MAC login for the device's hub session", () =>
    {
      deviceToken = anon.MacLogin(new MacRequest { MacAddress = mac }).Data.Token;
    });
    if (deviceToken == null) return;

    var appStates = new List<HubStateChange>();
    var devStates = new List<HubStateChange>();
    // The app's token in the header, the device's in the URL path (the
    // Unity device terminal's way); the app's heartbeat runs fast to see
    // the pongs.
    var app = NewHub(api.Token, false, appStates, heartbeatMs: 200);
    var dev = NewHub(deviceToken, true, devStates);
    var appChats = new List<ChatFrame>();
    var devCommands = new List<CommandFrame>();
    int pongs = 0;
    app.OnChat += f => appChats.Add(f);
    app.OnPong += f => pongs++;
    dev.OnCommand += f => devCommands.Add(f);
    var invalid = new List<string>();
    app.InvalidFrame += (raw, problem) => invalid.Add(problem + ": " + raw);
    dev.InvalidFrame += (raw, problem) => invalid.Add(problem + ": " + raw);
    try
    {
      Step("HubClient: app (token in header) and device (token in path) connect; the connected frames are typed", () =>
      {
        ConnectedFrame appHello = null, devHello = null;
        app.OnConnected += f => appHello = f;
        dev.OnConnected += f => devHello = f;
        var a = app.Connect();
        var d = dev.Connect();
        Check(a.Wait(10000) && d.Wait(10000), "connect tasks");
        PumpUntil(() => appHello != null && devHello != null, 10000, "connected frames", app, dev);
        Check(appHello.Message.Role == Role.App && devHello.Message.Role == Role.Device && devHello.Message.MacAddress == mac, "connected: " + JsonConvert.SerializeObject(devHello));
        Check(app.State == HubState.Open && dev.State == HubState.Open, "states " + app.State + " " + dev.State);
        Check(appStates.Count == 2 && appStates[0].State == HubState.Connecting && appStates[1].State == HubState.Open, "app states: " + Trail(appStates));
      });
      Step("HubClient relays: the device's chat frame reaches the app (from: device); the app's command reaches the device", () =>
      {
        dev.SendChat(new ChatPayload { Text = "hello app, from the C# device" }).Wait(5000);
        PumpUntil(() => appChats.Count > 0, 10000, "the chat frame at the app", app, dev);
        var f = appChats[0];
        Check(f.Message.Text == "hello app, from the C# device" && f.From != null && f.From.Role == Role.Device && f.From.MacAddress == mac, "relayed: " + JsonConvert.SerializeObject(f));
        app.SendCommand(new CommandPayload { CommandId = "cs-1", Name = "ping" }).Wait(5000);
        PumpUntil(() => devCommands.Count > 0, 10000, "the command at the device", app, dev);
        Check(devCommands[0].Message.CommandId == "cs-1" && devCommands[0].From.Role == Role.App, "command: " + JsonConvert.SerializeObject(devCommands[0]));
      });
      Step("HubClient keepalive: heartbeat frames are answered with pong", () =>
      {
        PumpUntil(() => pongs >= 2, 10000, "two pongs", app, dev);
        Check(app.State == HubState.Open, "state " + app.State);
      });
      Step("HubClient reconnects after the server restarts, and relays again", () =>
      {
        string signal = Environment.GetEnvironmentVariable("PARADISE_RESTART_FILE");
        Check(!string.IsNullOrEmpty(signal), "PARADISE_RESTART_FILE is not set (sdk/run.sh restarts the server)");
        int appMark = appStates.Count, devMark = devStates.Count;
        File.WriteAllText(signal, "restart\n"); // sdk/run.sh stops the server and starts it again
        Func<List<HubStateChange>, int, bool> cameBack = (states, mark) =>
          states.Count > mark && states.FindIndex(mark, c => c.State == HubState.Reconnecting) >= 0 && states[states.Count - 1].State == HubState.Open;
        PumpUntil(() => cameBack(appStates, appMark) && cameBack(devStates, devMark), 60000, () => "both sessions back after the restart (app: " + Trail(appStates) + "; device: " + Trail(devStates) + ")", app, dev);
        Check(!File.Exists(signal), "the restart signal was not taken");
        var drop = devStates[devMark];
        Check(drop.State == HubState.Reconnecting && drop.Code.HasValue && !HubBackoff.IsTerminal(drop.Code.Value) && drop.DelayMs.HasValue && drop.DelayMs.Value < 100, "first drop: " + drop);
        appChats.Clear();
        dev.SendChat(new ChatPayload { Text = "back again" }).Wait(5000);
        PumpUntil(() => appChats.Exists(c => c.Message.Text == "back again"), 10000, "the chat frame after the restart", app, dev);
      });
      Step("HubClient: Send while not open fails; no invalid frames arrived", () =>
      {
        var idle = new HubClient(new HubOptions { BaseUrl = Base, Token = "x" });
        bool threw = false;
        try { idle.SendChat(new ChatPayload { Text = "x" }); }
        catch (InvalidOperationException) { threw = true; }
        Check(threw && idle.State == HubState.Idle, "send on an idle client");
        Check(invalid.Count == 0, "invalid frames: " + string.Join("; ", invalid.ToArray()));
      });
      Step("HubClient stops on 4001 (invalid token): Connect fails, no reconnect", () =>
      {
        var states = new List<HubStateChange>();
        var bad = NewHub("not-a-token", false, states);
        var t = bad.Connect();
        bool failed = false;
        try { t.Wait(10000); }
        catch (AggregateException) { failed = true; }
        PumpUntil(() => states.Exists(c => c.State == HubState.Closed), 10000, "closed", bad);
        Check(failed && bad.State == HubState.Closed && bad.LastCloseCode == 4001, "state " + bad.State + ", code " + bad.LastCloseCode);
        Check(!states.Exists(c => c.State == HubState.Reconnecting) && states[states.Count - 1].Code == 4001, "states: " + Trail(states));
      });
    }
    finally
    {
      app.Close();
      dev.Close();
    }
  }
}
