// The REST part of the SDK end-to-end walk, in C# 7.2 under Mono, on the
// code generated into dist/sdk/cs (Paradise.Rest: models + ParadiseClient;
// Paradise.Ws: frame models + Frames) and Newtonsoft.Json.
// Run by sdk/run.sh: PARADISE_URL=http://127.0.0.1:PORT mono e2e.exe
using System;
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

static class E2E
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
    Step("logout revokes the token", () =>
    {
      api.LogoutUser();
      Expect(401, () => api.GetProfile());
    });

    Console.WriteLine(passed + " passed, " + failed + " failed");
    return failed == 0 && passed > 0 ? 0 : 1;
  }
}
