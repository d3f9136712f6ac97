// The SDK end-to-end walk in C# 7.2 under Mono, on the code generated into
// dist/sdk/cs (Paradise.Rest: models + ParadiseClient + ChatStreamEvent;
// Paradise.Ws: frame models + Frames) and Newtonsoft.Json: REST through the
// generated client, the streamed chat reply (Server-Sent Events) through
// HttpClient, the hub through ClientWebSocket here and through the packaged
// HubClient in HubWalk.cs, speech and a hub voice turn in VoiceWalk.cs.
// Run by sdk/run.sh: PARADISE_URL=http://127.0.0.1:PORT mono e2e.exe
using System;
using System.Collections.Generic;
using System.IO;
using System.Net.Http;
using System.Net.Http.Headers;
using System.Net.WebSockets;
using System.Text;
using System.Threading;
using Newtonsoft.Json;
using Paradise.Rest;
using Paradise.Ws;

// Exposes the generated client's Call for requests the typed methods cannot
// send (an invalid body).
class RawClient : ParadiseClient
{
  public RawClient(string baseUrl) : base(baseUrl) { }
  public T Raw<T>(string method, string path, object body) { return Call<T>(method, path, body); }
}

// One Server-Sent Event: its event name and data (data lines joined by \n).
class ServerSentEvent
{
  public string Event;
  public string Data;
}

// Reads the Server-Sent Events of a text/event-stream body line by line, as
// they arrive.
class ServerSentEventReader
{
  readonly StreamReader reader;
  public ServerSentEventReader(Stream body) { reader = new StreamReader(body, new UTF8Encoding(false)); }

  // The next event, or null at the end of the stream.
  public ServerSentEvent Next()
  {
    string ev = null;
    StringBuilder data = null;
    string line;
    while ((line = reader.ReadLine()) != null)
    {
      if (line.Length == 0)
      {
        if (data != null) return new ServerSentEvent { Event = ev ?? "message", Data = data.ToString() };
        ev = null;
        continue;
      }
      if (line[0] == ':') continue; // comment
      int colon = line.IndexOf(':');
      string field = colon < 0 ? line : line.Substring(0, colon);
      string value = colon < 0 ? "" : line.Substring(colon + 1);
      if (value.StartsWith(" ")) value = value.Substring(1);
      if (field == "event") ev = value;
      else if (field == "data")
      {
        if (data == null) data = new StringBuilder(value);
        else data.Append('\n').Append(value);
      }
    }
    if (data != null) throw new Exception("stream ended inside an event");
    return null;
  }
}

// A hub session over ClientWebSocket: frames out as JSON, frames in parsed
// with the generated Frames.Parse.
class HubSocket : IDisposable
{
  readonly ClientWebSocket ws = new ClientWebSocket();

  public HubSocket(string url, string token)
  {
    ws.Options.SetRequestHeader("Authorization", "Token " + token);
    using (var cts = new CancellationTokenSource(5000))
      ws.ConnectAsync(new Uri(url), cts.Token).GetAwaiter().GetResult();
  }

  public void Send(object frame)
  {
    var bytes = Encoding.UTF8.GetBytes(JsonConvert.SerializeObject(frame));
    using (var cts = new CancellationTokenSource(5000))
      ws.SendAsync(new ArraySegment<byte>(bytes), WebSocketMessageType.Text, true, cts.Token).GetAwaiter().GetResult();
  }

  // The next frame (its JSON in raw), parsed; throws after 5s without one.
  public object Next(out string raw)
  {
    var buf = new byte[8192];
    var msg = new MemoryStream();
    using (var cts = new CancellationTokenSource(5000))
    {
      WebSocketReceiveResult r;
      do
      {
        r = ws.ReceiveAsync(new ArraySegment<byte>(buf), cts.Token).GetAwaiter().GetResult();
        if (r.MessageType == WebSocketMessageType.Close) throw new Exception("hub closed the session: " + r.CloseStatus + " " + r.CloseStatusDescription);
        msg.Write(buf, 0, r.Count);
      } while (!r.EndOfMessage);
    }
    raw = Encoding.UTF8.GetString(msg.ToArray());
    return Frames.Parse(raw);
  }

  // The next frame that is not presence (device_info) or a notification.
  public object NextChat(out string raw)
  {
    for (;;)
    {
      var f = Next(out raw);
      if (!(f is DeviceInfoFrame) && !(f is NotificationFrame)) return f;
    }
  }

  public void Dispose()
  {
    try
    {
      using (var cts = new CancellationTokenSource(2000))
        ws.CloseAsync(WebSocketCloseStatus.NormalClosure, "bye", cts.Token).GetAwaiter().GetResult();
    }
    catch (Exception) { }
    ws.Dispose();
  }
}

static partial class E2E
{
  static readonly string Base = Environment.GetEnvironmentVariable("PARADISE_URL") ?? "http://127.0.0.1:8000";
  static int passed, failed;

  static void Check(bool cond, string msg) { if (!cond) throw new Exception(msg); }

  // Runs fn, which must fail with an ApiException of this status; returns its envelope.
  static Error Expect(int status, Action fn)
  {
    try { fn(); }
    catch (ApiException e)
    {
      Check(e.Status == status, "status " + e.Status + ", want " + status + ": " + e.Message);
      Check(e.Envelope != null && !e.Envelope.Success, "no error envelope");
      return e.Envelope;
    }
    throw new Exception("succeeded, want status " + status);
  }

  static void Step(string name, Action fn)
  {
    try { fn(); passed++; Console.WriteLine("ok   " + name); }
    catch (Exception e) { failed++; Console.WriteLine("FAIL " + name + ": " + e.Message); }
  }

  static int Main()
  {
    string user = "cs_" + DateTime.UtcNow.Ticks.ToString("x");
    const string password = "correct-horse-battery";
    var rnd = new Random();
    string mac = string.Format("AA:C0:{0:X2}:{1:X2}:{2:X2}:02", rnd.Next(256), rnd.Next(256), rnd.Next(256));
    var api = new RawClient(Base);
    var anon = new ParadiseClient(Base);
    Device device = null;

    Step("register (201, AuthEnvelope)", () =>
    {
      var reg = anon.RegisterUser(new RegisterRequest { Username = user, Password = password });
      Check(reg.Success && reg.Code == 201 && reg.Data.User.Username == user, "envelope");
    });
    Step("login", () =>
    {
      var login = anon.LoginUser(new LoginRequest { Username = user, Password = password });
      api.Token = login.Data.Token;
      Check(login.Data.User.LastLogin != null, "last_login set");
    });
    Step("profile update and read back", () =>
    {
      var upd = api.UpdateProfile(new ProfileUpdate { Nickname = "Cee", Gender = Gender.Other });
      Check(upd.Data.Nickname == "Cee" && upd.Data.Gender == Gender.Other && upd.Data.Mbti == "", "update");
      Check(api.GetProfile().Data.Gender == Gender.Other, "read back");
    });
    Step("bind a device", () =>
    {
      device = api.BindDevice(new BindRequest { MacAddress = mac }).Data;
      Check(device.MacAddress == mac && device.DeviceType == null && device.BatteryLevel == null && device.Status == DeviceStatus.Disconnected, "device");
    });
    Step("MAC login as that device", () =>
    {
      var ml = anon.MacLogin(new MacRequest { MacAddress = mac.ToLowerInvariant() });
      Check(ml.Data.Device.Id == device.Id && !string.IsNullOrEmpty(ml.Data.Token), "mac login");
    });
    Step("list device types and devices with pagination", () =>
    {
      var types = api.ListDeviceTypes(page: 1, pageSize: 1);
      Check(types.Data.Results.Count <= 1, "page_size respected");
      var page = api.ListDevices(1, 1);
      Check(page.Data.Count == 1 && page.Data.Next == null && page.Data.Results[0].MacAddress == mac, "devices page");
      Check(api.GetDevice(device.Id).Data.MacAddress == mac, "get device");
      Expect(404, () => api.ListDevices(99, 1));
    });
    Step("4010 envelope: MAC login of an unknown device", () =>
    {
      var e = Expect(404, () => anon.MacLogin(new MacRequest { MacAddress = "00:00:00:00:00:00" }));
      Check(e.Code == 4010, "code " + e.Code);
    });
    Step("401 envelope: invalid token", () =>
    {
      var bad = new ParadiseClient(Base) { Token = "not-a-token" };
      var e = Expect(401, () => bad.GetProfile());
      Check(e.Code == 401 && e.Data == null, "code " + e.Code);
    });
    Step("400 envelope: per-field messages", () =>
    {
      var e = Expect(400, () => api.Raw<AuthEnvelope>("POST", "/api/user/login/", new { username = "x" }));
      Check(e.Code == 400 && e.Data != null && e.Data.ContainsKey("password"), "fields");
    });
    Step("REST push of a typed frame (device offline)", () =>
    {
      var push = api.SendDeviceMessage(device.Id, new DeviceMessage { Type = DeviceMessageType.Notification, Message = new System.Collections.Generic.Dictionary<string, object> { { "title", "Hi" }, { "body", "from C#" } } });
      Check(push.Success && !push.Data.Online, "online " + push.Data.Online);
    });
    Step("hub frames: parse and serialise with the generated WS models", () =>
    {
      var f = Frames.Parse("{\"type\":\"chat\",\"message\":{\"text\":\"hi\"},\"from\":{\"role\":\"device\",\"mac_address\":\"AA:BB:CC:00:00:01\",\"connection_id\":\"c-1\"}}") as ChatFrame;
      Check(f != null && f.Message.Text == "hi" && f.From.Role == Role.Device, "chat frame");
      var n = JsonConvert.SerializeObject(new NotificationFrame { Message = new Paradise.Ws.NotificationPayload { Title = "t", Body = "b", Level = Paradise.Ws.NotificationLevel.Warning } });
      Check(n.Contains("\"type\":\"notification\"") && n.Contains("\"level\":\"warning\""), n);
    });
    // --- AI chat -------------------------------------------------------------
    ChatReply r1 = null, r2 = null;
    int streamed = 0;
    Action<ChatReply, string> checkReply = (r, what) =>
    {
      Check(r.Reply.Trim() != "" && r.Provider == "development" && r.FinishReason == Paradise.Rest.ChatFinishReason.Stop && !r.Truncated, what + ": " + JsonConvert.SerializeObject(r));
      Check(r.ConversationId > 0 && r.UserMessageId > 0 && r.AssistantMessageId > r.UserMessageId, what + " ids");
      Check(r.Usage.PromptTokens > 0 && r.Usage.CompletionTokens > 0 && r.Usage.TotalTokens == r.Usage.PromptTokens + r.Usage.CompletionTokens, what + " usage");
    };
    Step("chat (JSON): a reply in a new conversation, then a second message in it", () =>
    {
      var first = api.ChatCompletion(new ChatRequest { Message = "Good morning from C# " + user });
      Check(first.Success && first.Code == 200, "envelope");
      r1 = first.Data;
      checkReply(r1, "first");
      r2 = api.ChatCompletion(new ChatRequest { Message = "And what about tomorrow?", ConversationId = r1.ConversationId }).Data;
      checkReply(r2, "second");
      Check(r2.ConversationId == r1.ConversationId && r2.UserMessageId > r1.AssistantMessageId, "same conversation");
    });
    Step("chat (SSE, Accept: text/event-stream): start, deltas as they arrive, done; deltas make the stored reply", () =>
    {
      using (var http = new HttpClient { Timeout = TimeSpan.FromSeconds(30) })
      using (var req = new HttpRequestMessage(HttpMethod.Post, Base + "/api/ai/chat/"))
      {
        req.Headers.Authorization = new AuthenticationHeaderValue("Token", api.Token);
        req.Headers.Accept.ParseAdd("text/event-stream");
        req.Content = new StringContent(JsonConvert.SerializeObject(new ChatRequest { Message = "Tell me a story, C#" }), Encoding.UTF8, "application/json");
        using (var resp = http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead).GetAwaiter().GetResult())
        {
          Check((int)resp.StatusCode == 200, "status " + (int)resp.StatusCode);
          var ct = resp.Content.Headers.ContentType;
          Check(ct != null && ct.MediaType == "text/event-stream", "content-type " + ct);
          var events = new ServerSentEventReader(resp.Content.ReadAsStreamAsync().GetAwaiter().GetResult());
          ChatStreamStart start = null;
          ChatStreamDone done = null;
          var text = new StringBuilder();
          int deltas = 0;
          ServerSentEvent sse;
          while ((sse = events.Next()) != null)
          {
            object ev = ChatStreamEvent.Parse(sse.Data);
            Check(ev != null, "unknown event " + sse.Event + ": " + sse.Data);
            Check(Newtonsoft.Json.Linq.JObject.Parse(sse.Data)["type"].ToString() == sse.Event, "event " + sse.Event + " carries another type: " + sse.Data);
            Check(!(ev is ChatStreamError), "error event: " + sse.Data);
            Check(done == null, "an event after done: " + sse.Data);
            if (start == null)
            {
              start = ev as ChatStreamStart;
              Check(start != null && start.ConversationId > 0 && start.UserMessageId > 0, "first event: " + sse.Data);
              continue;
            }
            var delta = ev as ChatStreamDelta;
            if (delta != null) { text.Append(delta.Text); deltas++; continue; }
            done = ev as ChatStreamDone;
            Check(done != null, "unexpected event: " + sse.Data);
          }
          Check(start != null && done != null, "start and done events");
          Check(deltas > 1, deltas + " delta events");
          Check(done.ConversationId == start.ConversationId && done.UserMessageId == start.UserMessageId && done.AssistantMessageId > done.UserMessageId, "done ids");
          Check(done.Provider == "development" && done.FinishReason == Paradise.Rest.ChatFinishReason.Stop && !done.Truncated, "done");
          Check(done.Usage.CompletionTokens > 0 && done.Usage.TotalTokens == done.Usage.PromptTokens + done.Usage.CompletionTokens, "usage");
          var stored = api.ListConversationMessages(done.ConversationId, 1, 100).Data.Results.Find(m => m.Id == done.AssistantMessageId);
          Check(stored != null && stored.Role == ChatRole.Assistant && stored.Content == text.ToString() && text.ToString().Trim() != "", "stored reply differs from the deltas: " + (stored == null ? "none" : stored.Content) + " vs " + text);
          streamed = done.ConversationId;
        }
      }
    });
    Step("conversations: list (newest first, title and preview), read messages in order", () =>
    {
      Check(r1 != null && r2 != null && streamed != 0, "an earlier chat step failed");
      var page = api.ListConversations(1, 10).Data;
      Check(page.Count == 2 && page.Results[0].Id == streamed && page.Results[1].Id == r1.ConversationId, "newest first: " + JsonConvert.SerializeObject(page.Results.ConvertAll(c => c.Id)));
      foreach (var c in page.Results)
      {
        Check(c.Title.Trim() != "" && c.DeviceId == null, "title: " + c.Title);
        Check(c.LastMessage != null && c.LastMessage.Role == ChatRole.Assistant && c.LastMessage.Preview.Trim() != "", "preview");
      }
      Check(page.Results[1].Title.StartsWith("Good morning"), "title of the first message: " + page.Results[1].Title);
      var msgs = api.ListConversationMessages(r1.ConversationId).Data.Results;
      Check(msgs.Count == 4, msgs.Count + " messages");
      Check(msgs[0].Role == ChatRole.User && msgs[0].Id == r1.UserMessageId && msgs[0].Content == "Good morning from C# " + user && msgs[0].Provider == "", "message 1");
      Check(msgs[1].Role == ChatRole.Assistant && msgs[1].Id == r1.AssistantMessageId && msgs[1].Content == r1.Reply && msgs[1].Provider == "development", "message 2");
      Check(msgs[2].Role == ChatRole.User && msgs[2].Id == r2.UserMessageId, "message 3");
      Check(msgs[3].Role == ChatRole.Assistant && msgs[3].Id == r2.AssistantMessageId && msgs[3].Content == r2.Reply, "message 4");
    });
    Step("conversations: rename, delete (then 404 in the envelope)", () =>
    {
      Check(r1 != null, "an earlier chat step failed");
      int id = r1.ConversationId;
      Check(api.RenameConversation(id, new ConversationUpdate { Title = "C# morning plans" }).Data.Title == "C# morning plans", "rename");
      Check(api.GetConversation(id).Data.Title == "C# morning plans", "read back");
      var del = api.DeleteConversation(id);
      Check(del.Success && del.Data == null, "delete");
      var e = Expect(404, () => api.GetConversation(id));
      Check(e.Code == 404, "code " + e.Code);
      Expect(404, () => api.ListConversationMessages(id));
      Expect(404, () => api.ChatCompletion(new ChatRequest { Message = "still there?", ConversationId = id }));
    });
    Step("400 envelope: empty chat message (JSON and streamed)", () =>
    {
      Check(Expect(400, () => api.ChatCompletion(new ChatRequest { Message = "" })).Code == 400, "empty");
      Check(Expect(400, () => api.ChatCompletion(new ChatRequest { Message = "   " })).Code == 400, "blank");
      Check(Expect(400, () => api.ChatCompletion(new ChatRequest { Message = "", Stream = true })).Code == 400, "empty, streamed");
    });
    Step("hub chat: chat_request -> chat_delta frames and chat_done (same request_id); blank text -> error frame", () =>
    {
      using (var hub = new HubSocket(Base.Replace("http", "ws") + "/ws/device/", api.Token))
      {
        string raw;
        var hello = hub.Next(out raw) as ConnectedFrame;
        Check(hello != null && hello.Message.Role == Role.App && hello.Message.MacAddress == null, "connected: " + raw);
        string rid = "cs-" + user;
        hub.Send(new ChatRequestFrame { Message = new ChatRequestPayload { RequestId = rid, Text = "Hello over the hub" } });
        var text = new StringBuilder();
        int deltas = 0;
        ChatDoneFrame done = null;
        while (done == null)
        {
          object f = hub.NextChat(out raw);
          var delta = f as ChatDeltaFrame;
          if (delta != null)
          {
            Check(delta.Message.RequestId == rid, "delta request_id: " + raw);
            text.Append(delta.Message.Text);
            deltas++;
            continue;
          }
          done = f as ChatDoneFrame;
          Check(done != null, "unexpected frame: " + raw);
        }
        var m = done.Message;
        Check(m.RequestId == rid && m.Provider == "development" && m.FinishReason == Paradise.Ws.ChatFinishReason.Stop && !m.Truncated, "done: " + raw);
        Check(m.Usage.CompletionTokens > 0 && m.Usage.TotalTokens == m.Usage.PromptTokens + m.Usage.CompletionTokens, "usage: " + raw);
        Check(deltas > 1 && done.From != null && done.From.ConnectionId == "server", deltas + " deltas");
        var stored = api.ListConversationMessages((int)m.ConversationId).Data.Results.Find(x => x.Id == m.AssistantMessageId);
        Check(stored != null && stored.Content == text.ToString(), "stored reply differs from the deltas");

        string blank = "cs-blank-" + user;
        hub.Send(new ChatRequestFrame { Message = new ChatRequestPayload { RequestId = blank, Text = "   " } });
        var err = hub.NextChat(out raw) as ErrorFrame;
        Check(err != null && err.Message.RequestId == blank && err.Message.Code == ErrorCode.InvalidPayload, "error frame: " + raw);
      }
    });
    HubWalk(api, anon, mac);
    VoiceWalk(api, anon, mac);
    Step("logout revokes the token", () =>
    {
      api.LogoutUser();
      Expect(401, () => api.GetProfile());
    });

    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 && passed > 0 ? 0 : 1;
  }
}
